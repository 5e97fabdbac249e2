"""Links as code's functions as the host calls them, over the in-memory app: plan a topology document, apply
it as a change set the queue trigger advances step by step, and read the change set."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from interconnect.avs.resources import Link
from interconnect.errors import DependencyError
from interconnect.estate.changeset import ChangeSetStatus
from interconnect.estate.document import MAX_DOCUMENT_BYTES
from interconnect.linking.model import Action, Status
from tests.factories import SUB_A, cloud, cloud_id
from tests.functions.harness import BASE, FakeApp, answer, error_of, raising, request

YAML = "application/yaml"


def document(*pairs: tuple[str, str]) -> str:
    """A document managing subscription A (clouds pc-a, pc-b, pc-c in rg-avs) that declares `pairs`."""
    links = "\n".join(f"  - between: [{a}, {b}]" for a, b in pairs)
    return (
        "apiVersion: interconnect/v1\nkind: Topology\n"
        f"scope:\n  subscriptions: [{SUB_A}]\n"
        f"defaults:\n  subscription: {SUB_A}\n  resourceGroup: rg-avs\n"
        + (f"links:\n{links}\n" if pairs else "links: []\n")
    )


def plan(app: FakeApp, text: str, media: str = YAML) -> func.HttpResponse:
    response: func.HttpResponse = app.call(
        "plan_topology", request("POST", "topology/plan", body=text.encode(), headers={"Content-Type": media})
    )
    return response


def apply(app: FakeApp, text: str, fingerprint: str | None, headers: dict[str, str] | None = None) -> func.HttpResponse:
    params = {"fingerprint": fingerprint} if fingerprint is not None else None
    response: func.HttpResponse = app.call(
        "apply_topology",
        request(
            "POST",
            "topology/apply",
            body=text.encode(),
            headers={"Content-Type": YAML, **(headers or {})},
            params=params,
        ),
    )
    return response


def changeset(app: FakeApp, changeset_id: str) -> func.HttpResponse:
    response: func.HttpResponse = app.call(
        "get_changeset", request("GET", f"changesets/{changeset_id}", route={"id": changeset_id})
    )
    return response


def reviewed(app: FakeApp, text: str) -> dict[str, Any]:
    response = plan(app, text)
    assert response.status_code == 200
    body: dict[str, Any] = answer(response)
    return body


# -- plan_topology --------------------------------------------------------------------------------------------


def test_a_plan_lists_the_ordered_change_with_its_reads_and_changes_nothing(app: FakeApp) -> None:
    body = reviewed(app, document(("pc-a", "pc-b"), ("pc-b", "pc-c")))
    assert body["allowed"] is True and body["fingerprint"].startswith("v1:")
    assert [(s["step"], s["change"]) for s in body["steps"]] == [(1, "connect"), (2, "connect")]
    assert body["reads"] > 0
    assert app.store.rows == {} and app.queued() == [] and app.avs.links == {}


def test_a_json_document_plans_as_the_yaml_one_does(app: FakeApp) -> None:
    as_json = json.dumps(
        {
            "apiVersion": "interconnect/v1",
            "kind": "Topology",
            "scope": {"subscriptions": [SUB_A]},
            "defaults": {"subscription": SUB_A, "resourceGroup": "rg-avs"},
            "links": [{"between": ["pc-a", "pc-b"]}],
        }
    )
    from_json = answer(plan(app, as_json, "application/json; charset=utf-8"))
    assert from_json["fingerprint"] == reviewed(app, document(("pc-a", "pc-b")))["fingerprint"]


def test_a_body_of_another_media_type_is_415_and_a_large_one_413_before_parsing(app: FakeApp) -> None:
    for media in ("text/plain", "application/yaml; charset=latin-1", ""):
        assert error_of(plan(app, document(), media), 415)["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert error_of(plan(app, "#" * (MAX_DOCUMENT_BYTES + 1)), 413)["code"] == "TOO_LARGE"


def test_a_document_that_does_not_parse_is_400_with_its_problems(app: FakeApp) -> None:
    error = error_of(plan(app, "apiVersion: interconnect/v1\nkind: Topology\nlinks: 3\n"), 400)
    assert error["code"].startswith("TOPOLOGY_")
    assert error["details"]["problems"] and all("path" in p for p in error["details"]["problems"])


# -- apply_topology, get_changeset, process_work_item ---------------------------------------------------------


def test_apply_files_each_step_in_order_to_succeeded_and_a_re_apply_is_a_no_op(app: FakeApp) -> None:
    text = document(("pc-a", "pc-b"), ("pc-b", "pc-c"))
    response = apply(app, text, reviewed(app, text)["fingerprint"])
    started = answer(response)
    assert response.status_code == 202 and started["status"] == "InProgress"
    assert response.headers["Location"] == started["statusUrl"] == f"{BASE}/api/changesets/{started['changeSetId']}"
    app.drain()
    view = answer(changeset(app, started["changeSetId"]))
    assert view["status"] == "Succeeded"
    assert [(s["index"], s["status"]) for s in view["steps"]] == [(1, "Succeeded"), (2, "Succeeded")]
    requests = [app.store.get(s["requestId"]) for s in view["steps"]]
    assert [r.reference for r in requests] == [f"change set {view['changeSetId']} step {i}" for i in (1, 2)]
    assert requests[0].updated_at <= requests[1].created_at  # step 2 was filed once step 1 had ended
    assert len(app.avs.links) == 2
    again = reviewed(app, text)
    assert again["steps"] == []
    response = apply(app, text, again["fingerprint"])
    assert response.status_code == 200
    assert answer(response) == {
        "changeSet": None,
        "steps": [],
        "message": "nothing to change",
        "fingerprint": again["fingerprint"],
    }
    assert [r.fingerprint for r in app.services.topology_registry.registered()] == [again["fingerprint"]]


def test_apply_of_a_plan_that_is_no_longer_the_estates_is_409_plan_changed(app: FakeApp) -> None:
    text = document(("pc-a", "pc-b"))
    old = reviewed(app, text)["fingerprint"]
    app.avs.links[(app.a, "by-hand")] = Link(app.a, "by-hand", app.c, "Active")
    error = error_of(apply(app, text, old), 409)
    assert error["code"] == "PLAN_CHANGED" and error["details"]["fingerprint"] != old
    assert app.queued() == []


def test_apply_needs_a_fingerprint_and_refuses_a_plan_a_rule_refuses(app: FakeApp) -> None:
    text = document(("pc-a", "pc-b"))
    assert error_of(apply(app, text, None), 400)["code"] == "INVALID_FINGERPRINT"
    assert error_of(apply(app, text, "v1:nope"), 400)["code"] == "INVALID_FINGERPRINT"
    app.avs.add(cloud(cloud_id("pc-d"), block="10.0.0.0/22"))  # routes what pc-a routes
    refused = reviewed(app, document(("pc-a", "pc-d")))
    assert refused["allowed"] is False
    error = error_of(apply(app, document(("pc-a", "pc-d")), refused["fingerprint"]), 422)
    assert error["code"] == "PLAN_REFUSED" and error["details"]["problems"]
    assert app.queued() == []


def test_the_same_idempotency_key_answers_the_same_change_set(app: FakeApp) -> None:
    text = document(("pc-a", "pc-b"))
    fingerprint = reviewed(app, text)["fingerprint"]
    first = apply(app, text, fingerprint, {"Idempotency-Key": "pr-42"})
    second = apply(app, text, fingerprint, {"Idempotency-Key": "pr-42"})
    assert (first.status_code, second.status_code) == (202, 200)
    assert answer(first)["changeSetId"] == answer(second)["changeSetId"]
    other = error_of(apply(app, text, "v1:" + "0" * 64, {"Idempotency-Key": "pr-42"}), 409)
    assert other["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_redelivered_work_item_never_files_a_step_twice(app: FakeApp) -> None:
    text = document(("pc-a", "pc-b"))
    changeset_id = answer(apply(app, text, reviewed(app, text)["fingerprint"]))["changeSetId"]
    (item,) = app.queued()
    app.services.changesets.handle(item)
    app.services.changesets.handle(item)  # the same message again, as Service Bus may deliver it
    stored = app.services.changeset_store.get(changeset_id)
    assert len(app.store.rows) == 1 and stored.steps[0].request_id in app.store.rows
    app.drain()
    assert app.services.changeset_store.get(changeset_id).status is ChangeSetStatus.SUCCEEDED


def test_a_rejected_disconnect_stops_the_change_set_as_failed_naming_the_step(app: FakeApp) -> None:
    text = document(("pc-a", "pc-b"))
    app.call("apply_topology", apply_request(text, reviewed(app, text)["fingerprint"]))
    app.drain()
    empty = document()
    removal = reviewed(app, empty)
    assert [(s["change"], s["impact"] is not None) for s in removal["steps"]] == [("disconnect", True)]
    changeset_id = answer(apply(app, empty, removal["fingerprint"]))["changeSetId"]
    app.drain(wait=False)
    view = answer(changeset(app, changeset_id))
    (step,) = view["steps"]
    assert step["action"] == "disconnect" and "impact" in step and step["requestId"]  # seen at its last look
    request = app.store.get(step["requestId"])
    assert request.action is Action.DISCONNECT and request.status is Status.AWAITING_APPROVAL
    bob = {"Authorization": f"Bearer {app.token(user='bob')}"}
    rejected = app.call(
        "reject_request",
        request_of("POST", f"requests/{request.id}/reject", route={"id": request.id}, headers=bob),
    )
    assert rejected.status_code == 200
    app.drain()
    view = answer(changeset(app, changeset_id))
    assert view["status"] == "Failed" and view["reason"]["code"] == "CHANGESET_STEP_REJECTED"
    assert view["reason"]["details"]["step"] == 1 and view["reason"]["details"]["requestId"] == request.id


def test_a_change_set_id_that_is_no_uuid_is_400_and_an_unknown_one_404(app: FakeApp) -> None:
    assert error_of(changeset(app, "nope"), 400)["code"] == "INVALID_CHANGESET_ID"
    assert error_of(changeset(app, "3f2b8c1e-5d4a-4b6f-9c7e-1a2b3c4d5e6f"), 404)["code"] == "CHANGESET_NOT_FOUND"


request_of = request


def apply_request(text: str, fingerprint: str) -> func.HttpRequest:
    return request(
        "POST",
        "topology/apply",
        body=text.encode(),
        headers={"Content-Type": YAML},
        params={"fingerprint": fingerprint},
    )


def test_a_change_set_that_cannot_be_queued_is_503_and_ends_failed_saying_so(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = document(("pc-a", "pc-b"))
    fingerprint = reviewed(app, text)["fingerprint"]
    monkeypatch.setattr(app.queue, "send", raising(DependencyError("Service Bus unavailable")))
    assert error_of(apply(app, text, fingerprint), 503)["code"] == "DEPENDENCY_UNAVAILABLE"
    (stored,) = app.services.changeset_store.rows.values()  # type: ignore[attr-defined]
    assert stored.status is ChangeSetStatus.FAILED and stored.reason.code == "CHANGESET_NOT_QUEUED"
    assert app.store.rows == {}


def test_the_steps_a_change_set_has_not_filed_yet_are_what_the_audit_leaves_alone(app: FakeApp) -> None:
    text = document(("pc-a", "pc-b"), ("pc-b", "pc-c"))
    apply(app, text, reviewed(app, text)["fingerprint"])
    assert [(str(s), str(t), a) for s, t, a in app.services.changesets.pending_steps()] == [
        (str(app.a), str(app.b), Action.CONNECT),
        (str(app.b), str(app.c), Action.CONNECT),
    ]
    app.drain()
    assert app.services.changesets.pending_steps() == []


def test_the_sweep_sends_a_change_set_whose_work_item_was_lost_its_item_again(app: FakeApp) -> None:
    text = document(("pc-a", "pc-b"))
    changeset_id = answer(apply(app, text, reviewed(app, text)["fingerprint"]))["changeSetId"]
    app.queue.sent.clear()  # its first work item lost
    app.queue.seen.clear()  # ... and long enough ago for the broker to have forgotten its id
    app.clock.now += app.services.settings.stale_after + timedelta(seconds=1)
    app.call("sweep", TimerRequest(past_due=False))
    assert [(i.request_id, i.kind) for i in app.queued()] == [(changeset_id, "changeset")]
    app.drain()
    assert answer(changeset(app, changeset_id))["status"] == "Succeeded"
