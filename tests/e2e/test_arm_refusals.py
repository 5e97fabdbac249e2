"""ARM refusing a read (403) is an answer, end to end: the request ends with its cause on its first delivery,
nothing is dead-lettered, and the dry run answers 200 with the same verdict.

In real estates the app's identity often cannot read a cloud of another team; before issue 13 such a refusal
escaped the worker, the message was redelivered until it was dead-lettered, and the request sat in
`Validating` for minutes. Each test loads its own fleet with its own subscription, so call-log and
dead-letter checks only see this test's traffic.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.servicebus import ServiceBusClient, ServiceBusSubQueue

from localdev import servicebus
from tests.e2e.conftest import App, load_clouds, pc, puts

pytestmark = pytest.mark.e2e

QUEUE = "interconnect-requests"
DEADLINE = 30  # seconds: the verdict comes from one pass over the facts, not from retries running out


def forbid(kind: str, cloud: str) -> dict[str, Any]:
    """An armsim error rule: ARM answers 403 AuthorizationFailed to the `kind` read of `cloud`, every time."""
    path = f"*/privateClouds/{cloud}" if kind == "privateClouds.get" else f"*/privateClouds/{cloud}/*"
    return {"status": 403, "code": "AuthorizationFailed", "kinds": [kind], "path": path}


def load(app: App, errors: list[dict[str, Any]], a_links: list[str]) -> dict[str, str]:
    """a and b (to be linked), c linked to a (a's neighbour); fast simulated operations; `errors` apply."""
    links = [{"target": target} for target in a_links]
    clouds = [pc("a", "10.0.0.0/22", links=links), pc("b", "10.0.4.0/22"), pc("c", "172.16.0.0/22")]
    return load_clouds(app, clouds, faults={"errors": errors})


def refused_calls(app: App) -> list[dict[str, Any]]:
    return [call for call in app.arm.calls() if call["fault"] == "error"]


def dead_letters_of(app: App, request_id: str) -> list[str]:
    """Message ids in the dead-letter queue that belong to `request_id` (peeked: nothing is taken off)."""
    with (
        ServiceBusClient.from_connection_string(servicebus.connection_string(app.cloud.sb_port)) as client,
        client.get_queue_receiver(QUEUE, sub_queue=ServiceBusSubQueue.DEAD_LETTER) as receiver,
    ):
        peeked = receiver.peek_messages(max_message_count=250)
    return [str(m.message_id) for m in peeked if str(m.message_id).startswith(request_id)]


CASES = [
    pytest.param(forbid("privateClouds.get", "b"), "CLOUD_NOT_FOUND", "b", "privateClouds.get", id="target"),
    pytest.param(forbid("privateClouds.get", "c"), "NEIGHBOR_UNREADABLE", "c", "privateClouds.get", id="neighbour"),
    pytest.param(forbid("segments.list", "b"), "PERMISSION_DENIED", "b", "segments.list", id="segments"),
]


@pytest.mark.parametrize(("rule", "code", "cloud", "read"), CASES)
def test_a_refused_read_rejects_the_connect_with_its_cause_and_the_dry_run_says_the_same(
    app: App, rule: dict[str, Any], code: str, cloud: str, read: str
) -> None:
    clouds = load(app, [rule], a_links=["c"])
    dead_before = app.bus.dead_letter_depth(QUEUE)

    rid = app.submit("connect", clouds["a"], clouds["b"])
    done = app.wait(rid, timeout=DEADLINE)

    assert done["status"] == "Rejected", done
    assert [r["code"] for r in done["reasons"]] == [code]
    details = done["reasons"][0]["details"]
    assert (details["cloud"].lower(), details["read"], details["status"], details["armCode"]) == (
        clouds[cloud].lower(),
        read,
        403,
        "AuthorizationFailed",
    )
    assert [e["status"] for e in done["events"]] == ["Accepted", "Validating", "Rejected"]
    # Decided on the first delivery: ARM was asked once and refused once, never again by a redelivery.
    assert len(refused_calls(app)) == 1
    assert dead_letters_of(app, rid) == [] and app.bus.dead_letter_depth(QUEUE) == dead_before
    assert puts(app) == 0

    dry = app.call("POST", "requests?dryRun=true", {"action": "connect", "source": clouds["a"], "target": clouds["b"]})
    assert dry.status == 200, dry.body
    assert (dry.body["allowed"], dry.body["wouldDo"]) == (False, "reject")
    assert dry.body["reasons"] == done["reasons"]
    assert [(r["cloud"].lower(), r["read"]) for r in dry.body["facts"]["refusedReads"]] == [
        (clouds[cloud].lower(), read)
    ]


def test_a_link_to_a_cloud_the_app_cannot_read_can_still_be_removed(app: App) -> None:
    clouds = load(app, [forbid("privateClouds.get", "b"), forbid("cloudLinks.list", "b")], a_links=["b"])
    dead_before = app.bus.dead_letter_depth(QUEUE)

    rid = app.submit("disconnect", clouds["a"], clouds["b"])
    done = app.wait(rid, timeout=DEADLINE)

    assert done["status"] == "Succeeded", done
    assert app.links() == []
    assert dead_letters_of(app, rid) == [] and app.bus.dead_letter_depth(QUEUE) == dead_before
