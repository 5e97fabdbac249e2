"""Telling channels how requests go: which transitions are told, one delivery per callback, failures noted."""

from __future__ import annotations

import pytest

from interconnect.app.dispatch import Dispatch
from interconnect.channels import announcements
from interconnect.channels.deliveries import AnnouncingStore, Deliveries, Delivery, worth_telling
from interconnect.errors import DependencyError, InterconnectError
from interconnect.linking.model import Action, AuditEvent, Callback, LinkRequest, Status
from interconnect.linking.queue import WorkItem
from interconnect.linking.validation import Submit
from interconnect.linking.worker import Worker
from tests.factories import Clock
from tests.unit.world import ALICE, World

S = Status


def event(status: Status, previous: Status | None, kind: str = "status") -> AuditEvent:
    return AuditEvent("r", 1, Clock()(), "worker", kind, status, previous, "m")


@pytest.mark.parametrize(
    ("status", "previous", "told"),
    [
        (S.AWAITING_APPROVAL, S.ACCEPTED, True),
        (S.VALIDATING, S.ACCEPTED, False),
        (S.IN_PROGRESS, S.VALIDATING, True),
        (S.IN_PROGRESS, S.IN_PROGRESS, False),
        (S.SUCCEEDED, S.IN_PROGRESS, True),
        (S.REJECTED, S.VALIDATING, True),
        (S.EXPIRED, S.AWAITING_APPROVAL, True),
    ],
)
def test_which_transitions_are_told(status: Status, previous: Status, told: bool) -> None:
    assert worth_telling(event(status, previous)) is told
    assert worth_telling(event(status, previous, kind="note")) is False


class Recorder:
    def __init__(self, fail: Exception | None = None) -> None:
        self.told: list[tuple[Callback, Status]] = []
        self.fail = fail

    def deliver(self, callback: Callback, request: LinkRequest, event: AuditEvent) -> None:
        if self.fail:
            raise self.fail
        self.told.append((callback, event.status))


def world_with(notifier: Recorder) -> World:
    world = World()
    announcing = AnnouncingStore(world.store, world.queue)
    world.worker = Worker(
        announcing,
        world.queue,
        world.avs,
        world.worker.preflight,
        world.clock,
        poll_interval=world.worker.poll_interval,
        approvals=False,
    )
    world.dispatch = Dispatch(world.worker, world.queue, world.clock, deliveries=Deliveries(world.store, notifier))
    return world


def submit_with_callbacks(world: World, *callbacks: Callback) -> str:
    request, _ = world.intake.submit(Submit(Action.CONNECT, world.a, world.b, ALICE), callbacks=callbacks)
    return request.id


def test_each_callback_hears_the_start_and_the_end_once_and_each_is_noted() -> None:
    notifier = Recorder()
    world = world_with(notifier)
    rid = submit_with_callbacks(world, Callback("slack", "https://hooks.example.invalid/x"), Callback("teams"))
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED
    assert sorted((c.kind, s.value) for c, s in notifier.told) == [
        ("slack", "InProgress"),
        ("slack", "Succeeded"),
        ("teams", "InProgress"),
        ("teams", "Succeeded"),
    ]
    notes = [e.message for e in world.store.events(rid) if e.kind == "note"]
    assert sorted(notes) == [
        "told slack: InProgress",
        "told slack: Succeeded",
        "told teams: InProgress",
        "told teams: Succeeded",
    ]


def test_a_channel_that_refuses_is_noted_and_the_request_still_succeeds() -> None:
    world = world_with(Recorder(fail=InterconnectError("callback refused with 404", code="CALLBACK_REFUSED")))
    rid = submit_with_callbacks(world, Callback("slack", "https://hooks.example.invalid/x"))
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED
    assert any("could not tell slack: callback refused" in e.message for e in world.store.events(rid))


def test_a_channel_that_stays_down_is_retried_then_given_up_on_without_failing_the_request() -> None:
    world = world_with(Recorder(fail=DependencyError("callback unreachable")))
    rid = submit_with_callbacks(world, Callback("teams"))
    world.drain()
    assert world.status(rid) is Status.SUCCEEDED
    assert sum(1 for m in world.queue.seen if ":notify:" in m and ":retry:" in m) > 0
    assert any(e.message.startswith("gave up telling callback cb0") for e in world.store.events(rid))


def test_requests_without_callbacks_queue_no_notifications() -> None:
    world = world_with(Recorder())
    world.submit(Action.CONNECT)
    world.drain()
    assert not [m for m in world.queue.seen if ":notify:" in m]


def test_a_notify_item_names_its_version_and_callback() -> None:
    assert WorkItem("r", "notify", 4, origin="cb1").message_id == "r:notify:4:cb1"
    # The explicit Delivery reads and writes the same wire item: in-flight messages and their ids are unchanged.
    delivery = Delivery.from_item(WorkItem("r", "notify", 4, 2, origin="cb1"))
    assert delivery == Delivery("r", event_sequence=4, callback=1, retry=2)
    assert delivery.to_item() == WorkItem("r", "notify", 4, 2, origin="cb1")


def test_the_slack_message_has_a_plain_text_fallback_and_blocks() -> None:
    world = World()
    rid = submit_with_callbacks(world)
    request = world.store.get(rid)
    first = world.store.events(rid)[0]
    message = announcements.slack_message(request, first)
    assert rid in message["text"] and message["blocks"][0]["type"] == "header"
    assert announcements.jira_comment(request, first)["body"]["type"] == "doc"
    assert announcements.webhook_event(request, first)["data"]["requestId"] == rid
    card = announcements.adaptive_card(request, first)["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
