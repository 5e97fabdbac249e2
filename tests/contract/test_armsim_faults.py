"""armsim's injected faults as the real AVSClient experiences them.

Each test checks both sides: what the SDK surfaces (a transparent retry, an exception, a final link
state) and what the simulator's call log recorded, so an app test can rely on the same knobs.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.core.rest import HttpRequest

from localdev.procs import wait_until
from tests.contract.test_armsim import S1, S2, cid, link_body
from tests.plugins.armsim import ArmSim, fleet_doc

pytestmark = pytest.mark.contract


def load(armsim: ArmSim, faults: dict[str, Any]) -> ArmSim:
    doc = fleet_doc("contract")
    doc["faults"] = faults
    return armsim.load(doc)


def statuses(armsim: ArmSim, kind: str) -> list[int | None]:
    return [c["status"] for c in armsim.admin.calls(kind)]


def test_429_with_retry_after_is_retried_transparently(armsim: ArmSim) -> None:
    load(armsim, {"errors": [{"status": 429, "retryAfter": 0.05, "count": 2, "kinds": ["privateClouds.get"]}]})

    assert armsim.client(S1).private_clouds.get("rg-east", "east-1").name == "east-1"

    assert statuses(armsim, "privateClouds.get") == [429, 429, 200]
    assert armsim.admin.calls()[0]["fault"] == "error"
    assert armsim.admin.faults()["fired"]["errors"] == [2]


@pytest.mark.parametrize("status", [429, 500, 503])
def test_errors_at_a_moderate_rate_are_absorbed_by_retries(armsim: ArmSim, status: int) -> None:
    load(
        armsim,
        {
            "seed": 7,
            "errors": [{"status": status, "rate": 0.3, "retryAfter": 0, "methods": ["GET"], "path": "*/cloudLinks"}],
        },
    )
    client = armsim.client(S1)

    for _ in range(10):
        assert list(client.cloud_links.list("rg-east", "east-1")) == []
    client.private_clouds.get("rg-east", "east-1")  # out of the rule's scope

    seen = statuses(armsim, "cloudLinks.list")
    assert seen.count(200) == 10
    assert seen.count(status) == armsim.admin.faults()["fired"]["errors"][0] > 0
    assert statuses(armsim, "privateClouds.get") == [200]


def test_past_the_retry_budget_the_sdk_raises_the_last_status(armsim: ArmSim) -> None:
    load(armsim, {"errors": [{"status": 503, "kinds": ["privateClouds.get"]}]})

    with pytest.raises(HttpResponseError) as err:
        armsim.client(S1, retry_total=2).private_clouds.get("rg-east", "east-1")

    assert err.value.status_code == 503
    assert err.value.error.code == "ServiceUnavailable"
    assert statuses(armsim, "privateClouds.get") == [503, 503, 503]


def test_a_5xx_on_the_put_is_retried_and_the_link_still_gets_made(armsim: ArmSim) -> None:
    load(armsim, {"errors": [{"status": 500, "count": 1, "methods": ["PUT"], "path": "*/cloudLinks/*"}]})

    link = (
        armsim.client(S1)
        .cloud_links.begin_create_or_update("rg-east", "east-1", "l1", link_body(cid("east-2")))
        .result()
    )

    assert link.status == "Active"
    assert statuses(armsim, "cloudLinks.put") == [500, 201]


def test_a_dropped_connection_is_a_service_response_error_that_retries_absorb(armsim: ArmSim) -> None:
    load(armsim, {"drops": [{"count": 1, "kinds": ["privateClouds.get"]}]})

    with pytest.raises((ServiceRequestError, ServiceResponseError)):
        armsim.client(S1, retry_total=0).private_clouds.get("rg-east", "east-1")
    armsim.admin.patch_faults({"drops": [{"count": 1, "kinds": ["privateClouds.get"]}]})
    assert armsim.client(S1).private_clouds.get("rg-east", "east-1").name == "east-1"

    calls = armsim.admin.calls("privateClouds.get")
    assert [(c["status"], c["fault"]) for c in calls] == [(None, "drop"), (None, "drop"), (200, None)]


def test_a_put_whose_answer_is_lost_is_retried_onto_the_running_operation(armsim: ArmSim) -> None:
    load(armsim, {"drops": [{"count": 1, "when": "after", "kinds": ["cloudLinks.put"]}]})

    link = (
        armsim.client(S1)
        .cloud_links.begin_create_or_update("rg-east", "east-1", "l1", link_body(cid("east-2")))
        .result()
    )

    assert link.status == "Active"
    assert [(c["status"], c["fault"]) for c in armsim.admin.calls("cloudLinks.put")] == [
        (None, "drop-after"),
        (200, None),
    ]


def test_an_operation_that_ends_failed(armsim: ArmSim) -> None:
    load(armsim, {"linkOutcomes": [{"target": "east-2", "status": "Failed", "count": 1}]})
    client = armsim.client(S1)

    with pytest.raises(HttpResponseError) as err:
        client.cloud_links.begin_create_or_update("rg-east", "east-1", "l1", link_body(cid("east-2"))).result()

    assert err.value.error.code == "CloudLinkProvisioningFailed"
    failed = client.cloud_links.get("rg-east", "east-1", "l1")
    assert (failed.status, failed.provisioning_state) == ("Failed", "Failed")
    # `count: 1` used the rule up: the next link to the same target is made normally.
    assert (
        client.cloud_links.begin_create_or_update("rg-east", "east-3", "l2", link_body(cid("east-2"))).result().status
        == "Active"
    )


def test_an_operation_that_ends_disconnected(armsim: ArmSim) -> None:
    load(armsim, {"linkOutcomes": [{"link": "dr-*", "source": cid("east-1"), "status": "Disconnected"}]})

    link = (
        armsim.client(S1)
        .cloud_links.begin_create_or_update("rg-east", "east-1", "dr-1", link_body(cid("east-2")))
        .result()
    )

    assert (link.status, link.provisioning_state) == ("Disconnected", "Succeeded")


def test_a_link_stuck_in_building(armsim: ArmSim) -> None:
    load(armsim, {"linkOutcomes": [{"link": "stuck", "status": "Building"}]})
    client = armsim.client(S1)
    headers: dict[str, str] = {}

    client.cloud_links.begin_create_or_update(
        "rg-east",
        "east-1",
        "stuck",
        link_body(cid("east-2")),
        polling=False,
        raw_response_hook=lambda response: headers.update(response.http_response.headers),
    )
    # A link made after the stuck one has had its full build time once it is Active.
    client.cloud_links.begin_create_or_update("rg-east", "east-3", "fine", link_body(cid("east-2"))).result()

    assert client.cloud_links.get("rg-east", "east-1", "stuck").status == "Building"
    operation = client.send_request(HttpRequest("GET", headers["Azure-AsyncOperation"])).json()
    assert operation["status"] == "InProgress"


def test_the_read_throttle_counts_down_then_answers_429(armsim: ArmSim) -> None:
    load(armsim, {"throttle": {"subscriptions": {S1: {"reads": {"burst": 3, "refillPerSecond": 0.1}}}}})
    client = armsim.client(S1, retry_total=0)
    remaining: list[str] = []

    def record(response: Any) -> None:
        remaining.append(response.http_response.headers["x-ms-ratelimit-remaining-subscription-reads"])

    for _ in range(3):
        client.private_clouds.get("rg-east", "east-1", raw_response_hook=record)
    with pytest.raises(HttpResponseError) as err:
        client.private_clouds.get("rg-east", "east-1")

    assert remaining == ["2", "1", "0"]
    assert (err.value.status_code, err.value.error.code) == (429, "SubscriptionRequestsThrottled")
    assert int(err.value.response.headers["Retry-After"]) >= 1
    assert err.value.response.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
    assert armsim.admin.calls()[-1]["fault"] == "throttle"
    # Buckets are per subscription and per operation type: other subscriptions and writes are untouched.
    other = armsim.client(S2).private_clouds.get("rg-other", "other-1", raw_response_hook=record)
    assert other.name == "other-1" and remaining[-1] == "249"
    writes: list[str] = []
    client.cloud_links.begin_create_or_update(
        "rg-east",
        "east-1",
        "l1",
        link_body(cid("east-2")),
        polling=False,
        raw_response_hook=lambda r: writes.append(
            r.http_response.headers["x-ms-ratelimit-remaining-subscription-writes"]
        ),
    )
    assert writes == ["199"]


def test_latency_is_added_only_where_scoped(armsim: ArmSim) -> None:
    load(armsim, {"latency": [{"ms": 150, "kinds": ["privateClouds.get"]}]})
    client = armsim.client(S1)

    client.private_clouds.get("rg-east", "east-1")
    list(client.cloud_links.list("rg-east", "east-1"))

    assert armsim.admin.calls("privateClouds.get")[0]["durationMs"] >= 150
    assert armsim.admin.calls("cloudLinks.list")[0]["durationMs"] < 150


def test_a_seed_makes_the_fault_sequence_repeatable(armsim: ArmSim) -> None:
    faults = {"seed": 42, "errors": [{"status": 503, "rate": 0.5, "retryAfter": 0}]}

    def run() -> list[int | None]:
        armsim.admin.set_faults(faults)
        armsim.admin.clear_calls()
        client = armsim.client(S1, retry_total=0)
        for _ in range(12):
            with contextlib.suppress(HttpResponseError):
                client.private_clouds.get("rg-east", "east-1")
        return statuses(armsim, "privateClouds.get")

    load(armsim, {})
    first, second = run(), run()

    assert first == second
    assert {200, 503} <= set(first)


def test_faults_can_be_changed_and_cleared_at_runtime(armsim: ArmSim) -> None:
    load(armsim, {"errors": [{"status": 503}], "latency": [{"ms": 1}]})
    client = armsim.client(S1, retry_total=0)

    armsim.admin.patch_faults({"errors": [{"status": 500, "kinds": ["cloudLinks.list"]}]})
    assert client.private_clouds.get("rg-east", "east-1").name == "east-1"
    assert armsim.admin.faults()["config"]["latency"] == [{"ms": 1}]  # PATCH kept the other sections
    armsim.admin.clear_faults()
    assert list(client.cloud_links.list("rg-east", "east-1")) == []
    assert armsim.admin.faults()["config"] == {}


def test_operations_finish_with_the_configured_retry_after(armsim: ArmSim) -> None:
    doc = fleet_doc("contract")
    doc["settings"] |= {"retryAfter": 1, "buildSeconds": 0.1}
    armsim.load(doc)
    seen: list[str] = []

    poller = armsim.client(S1).cloud_links.begin_create_or_update(
        "rg-east",
        "east-1",
        "l1",
        link_body(cid("east-2")),
        raw_response_hook=lambda r: seen.append(r.http_response.headers.get("Retry-After", "-")),
    )
    wait_until(poller.done, timeout=10, what="the create operation")

    assert poller.result().status == "Active"
    assert seen[0] == "1"
