"""Links as code on the local cloud, over HTTP (issue 19): a topology document planned with every rule across
the whole change, applied as a change set through intake, approvals and the worker, and applied again.

Its own local cloud with approvals on (a removal is a disconnect: a second person approves it) and a window
long enough that no approval here races its expiry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localdev import identity
from tests.e2e.conftest import App, Response, load_clouds, pc, running_app

pytestmark = pytest.mark.e2e

TERMINAL_SETS = {"Succeeded", "Failed"}


@pytest.fixture(scope="module")
def estate_app() -> Iterator[App]:
    yield from running_app(INTERCONNECT_APPROVALS="on", INTERCONNECT_APPROVAL_MINUTES="10")


def as_user(app: App, user: str) -> dict[str, str]:
    """A real Entra-style token for a demo user, signed by the local identity stand-in (localdev/identity)."""
    return {"Authorization": f"Bearer {identity.token(app.cloud.identity_url, user=user)}"}


def document(clouds: dict[str, str], *pairs: tuple[str, str]) -> bytes:
    """A YAML document managing the fleet's resource group (short names) that declares `pairs`."""
    sub, rg = clouds["a" if "a" in clouds else next(iter(clouds))].split("/")[2::2][:2]
    links = "".join(f"  - between: [{a}, {b}]\n" for a, b in pairs)
    return (
        "apiVersion: interconnect/v1\nkind: Topology\nmetadata:\n  name: e2e\n"
        f"scope:\n  resourceGroups: [/subscriptions/{sub}/resourceGroups/{rg}]\n"
        f"defaults:\n  subscription: {sub}\n  resourceGroup: {rg}\n" + (f"links:\n{links}" if pairs else "links: []\n")
    ).encode()


YAML = {"Content-Type": "application/yaml"}


def plan(app: App, text: bytes) -> dict[str, Any]:
    response = app.call("POST", "topology/plan", raw=text, headers=YAML)
    assert response.status == 200, response.body
    body: dict[str, Any] = response.body
    return body


def apply(app: App, text: bytes, fingerprint: str, user: str = "alice") -> Response:
    return app.call(
        "POST", f"topology/apply?fingerprint={fingerprint}", raw=text, headers={**YAML, **as_user(app, user)}
    )


def wait_for_changeset(app: App, changeset_id: str, approver: str = "bob", timeout: float = 90) -> dict[str, Any]:
    """The change set once it ended, approving (as `approver`) each of its steps that awaits approval."""
    found: dict[str, Any] = {}

    def ended() -> bool:
        found.update(app.call("GET", f"changesets/{changeset_id}").body)
        for step in found["steps"]:
            request_id = step["requestId"]
            if request_id and app.call("GET", f"requests/{request_id}").body["status"] == "AwaitingApproval":
                decided = app.call("POST", f"requests/{request_id}/approve", headers=as_user(app, approver))
                assert decided.status == 200, decided.body
        return found["status"] in TERMINAL_SETS

    app.wait_until(ended, f"change set {changeset_id} to end", timeout=timeout)
    return found


def test_two_links_fine_alone_that_together_overlap_are_refused_naming_both(estate_app: App) -> None:
    clouds = load_clouds(
        estate_app,
        [pc("a", "10.0.0.0/22"), pc("hub", "10.1.0.0/22"), pc("c", "10.0.0.0/21")],  # c overlaps a
    )
    for alone in (("a", "hub"), ("hub", "c")):
        assert plan(estate_app, document(clouds, alone))["allowed"] is True
    both = document(clouds, ("a", "hub"), ("hub", "c"))
    planned = plan(estate_app, both)
    assert planned["allowed"] is False
    refused = [s for s in planned["steps"] if not s["allowed"]]
    assert [r["code"] for s in refused for r in s["reasons"]] == ["NEIGHBOR_OVERLAP"]
    (reason,) = refused[0]["reasons"]
    first = next(s for s in planned["steps"] if s["allowed"])
    named = {reason["details"]["neighbor"], reason["details"]["other"], refused[0]["source"], refused[0]["target"]}
    assert {first["source"], first["target"]} <= named | {reason["details"]["linkedTo"]}
    assert {clouds["a"], clouds["c"]} <= named | {reason["details"]["linkedTo"]}
    assert reason["details"]["plannedLink"]["step"] == first["step"]
    response = apply(estate_app, both, planned["fingerprint"])
    assert response.status == 422, response.body
    error = response.body["error"]
    assert error["code"] == "PLAN_REFUSED" and [p["code"] for p in error["details"]["problems"]] == ["NEIGHBOR_OVERLAP"]
    assert all(link["source"] not in clouds.values() for link in estate_app.links())


def test_a_removal_that_frees_the_room_is_ordered_first_applied_and_a_re_apply_is_a_no_op(estate_app: App) -> None:
    peers = [f"p{i}" for i in range(10)]
    clouds = load_clouds(
        estate_app,
        [
            pc("a", "10.0.0.0/22", links=[{"target": p} for p in peers]),  # at the limit of 10
            *(pc(p, f"10.{i + 1}.0.0/22") for i, p in enumerate(peers)),
            pc("k", "10.20.0.0/22"),
        ],
    )
    # a keeps p1..p9, drops p0 and gains k: only within the limit if p0 goes first.
    wanted = document(clouds, *(("a", p) for p in peers[1:]), ("a", "k"))
    planned = plan(estate_app, wanted)
    assert planned["allowed"] is True, planned
    assert [(s["change"], s["source"], s["target"]) for s in planned["steps"]] == [
        ("disconnect", clouds["a"], clouds["p0"]),
        ("connect", clouds["a"], clouds["k"]),
    ]
    assert planned["steps"][0]["impact"] is not None  # a removal says what it cuts
    assert planned["summary"]["stay"] == 9
    response = apply(estate_app, wanted, planned["fingerprint"])
    assert response.status == 202, response.body
    assert response.headers["Location"] == response.body["statusUrl"]
    done = wait_for_changeset(estate_app, response.body["changeSetId"])
    assert done["status"] == "Succeeded", (done["reason"], done["steps"])
    assert [(s["action"], s["status"]) for s in done["steps"]] == [
        ("disconnect", "Succeeded"),
        ("connect", "Succeeded"),
    ]
    removal, connect = (estate_app.call("GET", f"requests/{s['requestId']}").body for s in done["steps"])
    assert removal["updatedAt"] <= connect["createdAt"]  # the connect was filed once the removal had ended
    assert removal["requestedBy"]["id"] == identity.USERS["alice"].oid
    assert removal["approval"]["decidedBy"] == f"api:{identity.USERS['bob'].oid}"
    held = {link["properties"]["linkedCloud"] for link in estate_app.links() if link["source"] == clouds["a"]}
    assert held == {clouds[p] for p in [*peers[1:], "k"]}

    again = plan(estate_app, wanted)
    assert again["steps"] == [] and again["allowed"] is True
    puts_before = len(estate_app.arm.calls("cloudLinks.put"))
    response = apply(estate_app, wanted, again["fingerprint"])
    assert response.status == 200, response.body
    assert response.body["changeSet"] is None and response.body["message"] == "nothing to change"
    assert len(estate_app.arm.calls("cloudLinks.put")) == puts_before


def test_an_estate_changed_between_plan_and_apply_is_409_plan_changed(estate_app: App) -> None:
    clouds = load_clouds(estate_app, [pc("a", "10.0.0.0/22"), pc("b", "10.0.4.0/22"), pc("c", "10.0.8.0/22")])
    text = document(clouds, ("a", "b"))
    reviewed = plan(estate_app, text)["fingerprint"]
    estate_app.arm.add_link(clouds["c"], clouds["b"])  # made by hand meanwhile
    response = apply(estate_app, text, reviewed)
    assert response.status == 409, response.body
    error = response.body["error"]
    assert error["code"] == "PLAN_CHANGED" and error["details"]["fingerprint"] != reviewed
    assert error["details"]["fingerprint"] == plan(estate_app, text)["fingerprint"]
