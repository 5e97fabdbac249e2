"""Telling channels how requests go: which transitions are told, one delivery per callback, failures noted."""

from __future__ import annotations

import json
from dataclasses import replace

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


# -- the approval prompt -----------------------------------------------------------------------------------------


def test_the_approval_prompt_in_slack_and_teams_says_what_the_disconnect_cuts_in_plain_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from interconnect.adapters import notifier
    from interconnect.avs.resources import Link, LinkStatus, Segment
    from interconnect.channels.config import Channels

    world = World(approvals=True)
    world.avs.links[(world.a, "ab")] = Link(world.a, "ab", world.b, LinkStatus.ACTIVE)
    # A segment name is ARM's, so from outside: it must neither ping the channel nor format nor link.
    world.avs.segments[world.a] = [Segment("web<!channel>*b*&[x](https://evil)", "192.168.10.1/24", "t1")]
    slack, teams = Callback("slack", "https://hooks.slack.test/r/1"), Callback("teams", "conversation-1")
    request, _ = world.intake.submit(Submit(Action.DISCONNECT, world.a, world.b, ALICE), callbacks=(slack, teams))
    world.worker.handle(world.queue.take()[0])
    waiting, event = world.store.get(request.id), world.store.events(request.id)[-1]
    assert event.status is Status.AWAITING_APPROVAL
    sent: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(notifier, "send", lambda method, url, body, headers=None: sent.append((url, body)))
    http = notifier.HttpNotifier(Channels(teams_workflow_url="https://teams.test/workflow"))
    http.deliver(slack, waiting, event)
    http.deliver(teams, waiting, event)
    (_, message), (_, card) = sent

    cut = (
        "What it cuts: a and b stop reaching each other (2 routed prefixes of a, 1 routed prefix of b); "
        "a: 10.0.0.0/22 networkBlock, 192.168.10.0/24 segment web??channel??b???x?(https://evil); "
        "b: 10.0.4.0/22 networkBlock"
    )
    section = message["blocks"][2]["text"]  # type: ignore[index]
    assert section["type"] == "mrkdwn" and section["text"].endswith(cut)
    assert cut in message["text"]  # type: ignore[operator]
    assert message["blocks"][-1]["type"] == "actions"  # type: ignore[index]  # Approve and Reject follow it
    text_blocks = [b["text"] for b in card["attachments"][0]["content"]["body"] if b["type"] == "TextBlock"]  # type: ignore[index]
    assert any(t.endswith(cut) for t in text_blocks)
    for payload in (message, card):
        flat = json.dumps(payload)
        assert "<!channel>" not in flat and "*b*" not in flat and "[x]" not in flat and "&" not in flat


def test_slack_mrkdwn_shows_outside_text_literally() -> None:
    world = World()
    rid = submit_with_callbacks(world)
    request = replace(world.store.get(rid), outcome="done <!here> & <https://x|y>", reference="CHG<@U1>")
    message = announcements.slack_message(request, world.store.events(rid)[0])
    assert message["blocks"][2]["text"]["text"] == "done &lt;!here&gt; &amp; &lt;https://x|y&gt;"
    assert message["blocks"][3]["elements"][0]["text"].endswith(" · CHG&lt;@U1&gt;")
