"""A malformed ARM answer, and a refused read behind `GET /api/links`, are answers end to end, never a 5xx.

ARM's answers are outside input. A link whose `linkedCloud` is no cloud id used to raise out of the reads:
the worker crashed on every delivery until the message was dead-lettered, and the dry run answered 500.
Now the read is recorded like a refusal (ARM_MALFORMED_ANSWER, naming the cloud, the read and the link), the
connect is rejected on its first delivery, the dry run answers 200 with the same verdict, and the links
query answers 200 with what it could read and says what it could not. Each test loads its own fleet with its
own subscription, so call-log and dead-letter checks only see this test's traffic.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import App, cloud_ids, load_clouds, pc, puts, running_app
from tests.e2e.test_arm_refusals import DEADLINE, QUEUE, dead_letters_of, forbid

pytestmark = pytest.mark.e2e

HOSTILE = "/subscriptions/\r\nX-Evil: <b>" + "x" * 3000  # served verbatim as a link's linkedCloud


def load(app: App, errors: list[dict[str, Any]], b_links: list[dict[str, Any]]) -> dict[str, str]:
    """a and b (to be linked) and c; b holds `b_links`; fast simulated operations; `errors` apply."""
    clouds = [pc("a", "10.0.0.0/22", links=[{"target": "b"}]), pc("b", "10.0.4.0/22", links=b_links)]
    return load_clouds(app, [*clouds, pc("c", "172.16.0.0/22")], faults={"errors": errors})


def test_a_malformed_link_rejects_the_connect_at_once_and_every_answer_says_why(app: App) -> None:
    # GIVEN b holding a link to c whose linkedCloud ARM serves as a hostile non-id
    clouds = load(app, [], [{"target": "c", "name": "odd", "linkedCloud": f"!raw:{HOSTILE}"}])
    dead_before = app.bus.dead_letter_depth(QUEUE)

    # WHEN a connect of b to a third cloud is requested (a and b are linked already: c is the new end)
    rid = app.submit("connect", clouds["c"], clouds["b"])
    done = app.wait(rid, timeout=DEADLINE)

    # THEN it is rejected on its first delivery with the malformed read named, nothing dead-lettered or PUT
    assert done["status"] == "Rejected", done
    assert [r["code"] for r in done["reasons"]] == ["ARM_MALFORMED_ANSWER"]
    details = done["reasons"][0]["details"]
    assert (details["cloud"].lower(), details["read"], details["armCode"]) == (
        clouds["b"].lower(),
        "cloudLinks.list",
        "MALFORMED_ANSWER",
    )
    message = done["reasons"][0]["message"]
    assert "'odd'" in message and "linkedCloud" in message
    assert "x" * 100 not in message and "\n" not in message
    assert [e["status"] for e in done["events"]] == ["Accepted", "Validating", "Rejected"]
    assert dead_letters_of(app, rid) == [] and app.bus.dead_letter_depth(QUEUE) == dead_before
    assert puts(app) == 0

    # AND the dry run answers 200 with the same verdict
    dry = app.call("POST", "requests?dryRun=true", {"action": "connect", "source": clouds["c"], "target": clouds["b"]})
    assert dry.status == 200, dry.body
    assert (dry.body["allowed"], dry.body["reasons"]) == (False, done["reasons"])

    # AND the links query lists what it could read and says what it could not
    listing = app.call("GET", f"links?cloud={clouds['b']}")
    assert listing.status == 200, listing.body
    assert listing.body["complete"] is False
    assert [(v["direction"], v["otherCloud"].lower()) for v in listing.body["value"]] == [
        ("incoming", clouds["a"].lower())
    ]
    assert [(r["read"], r["armCode"]) for r in listing.body["refusedReads"]] == [
        ("cloudLinks.list", "MALFORMED_ANSWER")
    ]


def test_the_links_query_states_a_refused_listing_and_answers_404_for_a_refused_cloud(app: App) -> None:
    clouds = load(app, [forbid("cloudLinks.list", "a"), forbid("privateClouds.get", "c")], [])

    # b's own links are readable; the incoming one from a cannot be listed: shown as Unknown, and said
    listing = app.call("GET", f"links?cloud={clouds['b']}")
    assert listing.status == 200, listing.body
    assert listing.body["value"] == [
        {"name": "", "direction": "incoming", "otherCloud": listing.body["value"][0]["otherCloud"], "status": "Unknown"}
    ]
    assert listing.body["complete"] is False
    assert [(r["cloud"].lower(), r["read"], r["status"]) for r in listing.body["refusedReads"]] == [
        (clouds["a"].lower(), "cloudLinks.list", 403)
    ]

    # a's own listing refused: the answer is not an empty "no links" but incomplete
    own = app.call("GET", f"links?cloud={clouds['a']}")
    assert own.status == 200 and own.body["complete"] is False and own.body["value"] == []

    # c cannot be read at all: 404 CLOUD_NOT_FOUND naming the refused read, not 502
    refused = app.call("GET", f"links?cloud={clouds['c']}")
    assert refused.status == 404, refused.body
    error = refused.body["error"]
    assert error["code"] == "CLOUD_NOT_FOUND"
    assert (error["details"]["read"], error["details"]["status"]) == ("privateClouds.get", 403)


AUDIT_SUB, AUDIT_RG = "77777777-7777-7777-7777-777777777777", "rg-audit-malformed"


@pytest.fixture(scope="module")
def audit_app() -> Iterator[App]:
    yield from running_app(INTERCONNECT_SUBSCRIPTIONS=AUDIT_SUB)


def test_the_audit_reports_what_it_could_not_read_and_judges_the_rest(audit_app: App) -> None:
    # GIVEN a holding a readable link to b and a malformed one to c, b's segments refused, c's block empty
    audit_app.arm.load_fleet(
        {
            "settings": {"retryAfter": 1},
            "faults": {
                "throttle": {"reads": None, "writes": None, "deletes": None},
                "errors": [forbid("segments.list", "b")],
            },
            "subscriptions": [
                {
                    "id": AUDIT_SUB,
                    "resourceGroups": [
                        {
                            "name": AUDIT_RG,
                            "privateClouds": [
                                {
                                    "name": "a",
                                    "location": "westeurope",
                                    "networkBlock": "10.0.0.0/22",
                                    "links": [
                                        {"target": "b", "status": "Failed"},
                                        {"target": "c", "name": "odd", "linkedCloud": f"!raw:{HOSTILE}"},
                                    ],
                                },
                                {"name": "b", "location": "westeurope", "networkBlock": "10.0.4.0/22"},
                                {"name": "c", "location": "westeurope", "networkBlock": "!raw:"},
                            ],
                        }
                    ],
                }
            ],
        }
    )
    a, b, c = cloud_ids(AUDIT_SUB, AUDIT_RG, "a", "b", "c")
    # WHEN an audit runs
    started = audit_app.call("POST", "audits")
    assert started.status == 202, started.body
    audit_app.wait_until_found(f"audits/{started.body['runId']}")
    run = audit_app.call("GET", f"audits/{started.body['runId']}").body
    # THEN the run completed, judged the readable link, and names each read it could not use
    by_code: dict[str, list[dict[str, Any]]] = {}
    for finding in run["findings"]:
        by_code.setdefault(finding["code"], []).append(finding)
    assert "LINK_NOT_ACTIVE" in by_code, run
    unreadable = {f["clouds"][0].lower(): f for f in by_code["UNREADABLE_CLOUD"]}
    assert set(unreadable) == {a.lower(), b.lower()}
    assert unreadable[a.lower()]["details"]["reads"] == [
        {"read": "cloudLinks.list", "code": "ARM_MALFORMED_ANSWER", "partial": True}
    ]
    assert "'odd'" in unreadable[a.lower()]["message"] and "x" * 100 not in unreadable[a.lower()]["message"]
    assert unreadable[b.lower()]["details"]["reads"][0]["code"] == "ARM_AuthorizationFailed"
    (prefix,) = by_code["UNREADABLE_PREFIX"]
    assert prefix["clouds"][0].lower() == c.lower() and "networkBlock" in prefix["message"]
    assert prefix["severity"] == "critical"  # c is linked, though the link's own answer is malformed
