"""Requests that arrive from ticketing webhooks, Slack and Teams: verify, parse, hand to intake, answer fast.

Each channel's signature is checked over the raw body before anything is parsed. Answers stay within the
sender's deadline (Slack 3 s, Teams 5 s) because nothing here touches ARM except the read-only chat commands
(`plan`, `links`) and the cached list of clouds that short names are resolved against (avs/known.py).

A valid signature says who sent a payload, not that its content is sane: every JSON document is decoded
within size and nesting caps, and every value that is stored, queued or used as a key (ids, button values,
response URLs) is held to the same grammar as the REST API before intake sees it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from interconnect import boundedjson
from interconnect.avs.ids import CloudId, parse_cloud_id
from interconnect.avs.known import KnownClouds
from interconnect.channels import signatures
from interconnect.channels.chat import TICKET, ChatCommand, ChatReply, Resolved, parse_command, resolve_listed
from interconnect.channels.config import Channels, HookSource
from interconnect.channels.ticketmap import map_ticket
from interconnect.errors import (
    DependencyError,
    InterconnectError,
    MappingError,
    SignatureError,
    TooLargeError,
    ValidationError,
)
from interconnect.linking.approvals import Approvals
from interconnect.linking.intake import Intake
from interconnect.linking.model import Action, Callback, Requester
from interconnect.linking.queries import Queries
from interconnect.linking.validation import Submit, parse_json, parse_submit

log = logging.getLogger(__name__)

# Body limits per channel, in bytes (the edge checks them before verifying; decoding checks them again).
# Jira sends the whole issue (every field, rendered description, changelog): hundreds of KB are real.
HOOK_BODY_LIMIT = 1024 * 1024
SLACK_COMMAND_LIMIT = 16 * 1024  # a form of a dozen short fields; the command text itself is capped at 2,000
# block_actions echo the message that held the button (up to 50 blocks), URL-encoded: larger than it looks.
SLACK_ACTION_LIMIT = 256 * 1024
TEAMS_LIMIT = 256 * 1024  # an activity carries the message HTML (Teams allows about 28 KB) plus entities
MAX_BUTTON_VALUE = 2000  # Slack's own limit on a button value

# Who a channel says sent something: stored as the requester and compared by policy.
_SENDER_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,200}")  # Slack T0123/U0123, Teams 29:1a…, AAD object ids
_TOKEN = re.compile(r"[\x21-\x7e]{1,256}")  # trigger and activity ids: they become idempotency keys
_REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FINGERPRINT = _SYS_ID = re.compile(r"[0-9a-f]{32}")
MAX_DISPLAY = 200
MAX_URL = 2000


@dataclass(frozen=True)
class Accepted:
    """A request the channel made: its id and whether it is new (a repeat answers with the same id)."""

    request_id: str
    status: str
    created: bool


@dataclass
class Inbound:
    channels: Channels
    intake: Intake
    queries: Queries
    approvals: Approvals
    clouds: KnownClouds
    now: Callable[[], float] = time.time

    # -- ticketing webhooks ---------------------------------------------------------------------------

    def hook(self, source_name: str, headers: Mapping[str, str], body: bytes) -> Accepted:
        """Raises SignatureError (401; also for a source that is not configured), TooLargeError (413),
        ValidationError (400) or MappingError (422)."""
        source = self.channels.hooks.get(source_name)
        if source is None:
            # Answered exactly as a bad signature, so configured names cannot be found by trying them; one
            # HMAC over the body keeps the work (and so the timing) close to a real check's.
            hmac.new(os.urandom(32), body, hashlib.sha256).digest()
            raise SignatureError("signature verification failed", details={"reason": "unknown_source"})
        delivery = self._verify_hook(source, headers, body)
        payload = parse_json(body, max_bytes=HOOK_BODY_LIMIT, what="the webhook payload")
        fields = map_ticket(payload, source.mapping)
        requester = Requester(source.name, fields.requester or "unknown", fields.requester)
        try:
            command = parse_submit(fields.as_request_body(), caller=requester)
        except ValidationError as exc:
            raise MappingError(
                f"the ticket maps to an unusable request: {exc.message}",
                details={"invalid": [exc.details | {"code": exc.code}]},
            ) from exc
        ticket = fields.reference
        if source.type == "servicenow" and payload.get("sys_id") is not None:
            # The callback PATCHes the record by sys_id, so it goes into a URL: 32 hex digits or nothing.
            ticket = f"{fields.reference}#{_checked(payload['sys_id'], _SYS_ID, 'sys_id')}"
        # Sender retries carry the same ticket, action and pair (and delivery id), so they map to one request.
        pair = "|".join(sorted((command.source.normalized, command.target.normalized)))
        key = f"{source.name}:{fields.reference}:{command.action.value}:{pair}"
        request, created = self.intake.submit(
            command,
            idempotency_key=key,
            correlation_id=delivery or "",
            callbacks=(Callback("hook", source.name, ticket),),
        )
        return Accepted(request.id, request.status.value, created)

    def _verify_hook(self, source: HookSource, headers: Mapping[str, str], body: bytes) -> str | None:
        if source.type == "jira":
            return signatures.verify_jira(headers, body, source.signing)
        if source.type == "servicenow":
            signatures.verify_servicenow(headers, body, source.signing, now=self.now())
            return None
        return signatures.verify_standard_webhook(headers, body, source.signing, now=self.now())

    # -- Slack ----------------------------------------------------------------------------------------

    def slack_command(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        signatures.verify_slack(headers, body, self.channels.slack_secrets, now=self.now())
        form = _form(body, SLACK_COMMAND_LIMIT)
        team = _checked(form.get("team_id", ""), _SENDER_ID, "team_id")
        user = _checked(form.get("user_id", ""), _SENDER_ID, "user_id")
        requester = Requester("slack", f"{team}/{user}", _display(form.get("user_name", ""), "user_name"))
        trigger = _checked(form["trigger_id"], _TOKEN, "trigger_id") if form.get("trigger_id") else None
        response_url = _url(form["response_url"], "response_url") if form.get("response_url") else None
        parsed = parse_command(form.get("text", ""))
        if isinstance(parsed, ChatCommand) and parsed.verb == "disconnect":
            clouds = self._resolve(parsed.args)
            if isinstance(clouds, str):
                return _slack_text(clouds)
            return _confirm_disconnect(clouds, parsed.ticket)
        reply = self._run(
            parsed,
            requester,
            key=f"slack:{trigger}" if trigger else None,
            callbacks=(Callback("slack", response_url),) if response_url else (),
        )
        return _slack_text(reply)

    def slack_action(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        signatures.verify_slack(headers, body, self.channels.slack_secrets, now=self.now())
        form = _form(body, SLACK_ACTION_LIMIT)
        payload = parse_json(
            form.get("payload", "").encode("utf-8", "surrogatepass"),
            max_bytes=SLACK_ACTION_LIMIT,
            what="the Slack payload",
            code="INVALID_PAYLOAD",
        )
        try:
            action = payload["actions"][0]
            user, team = payload["user"], payload.get("team") or {}
            user_id, team_id = user["id"], team.get("id", "")
            display = user.get("username", user.get("name", ""))
            action_id, value = action["action_id"], action.get("value", "")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ValidationError("not a Slack block_actions payload", code="INVALID_PAYLOAD") from None
        requester = Requester(
            "slack",
            f"{_checked(team_id, _SENDER_ID, 'team.id') if team_id else ''}/{_checked(user_id, _SENDER_ID, 'user.id')}",
            _display(display, "user.name"),
        )
        action_id = _checked(action_id, _TOKEN, "action_id")
        if not isinstance(value, str) or len(value) > MAX_BUTTON_VALUE:
            raise ValidationError(
                f"the button value is not text of at most {MAX_BUTTON_VALUE} characters", code="INVALID_PAYLOAD"
            )
        if action_id == "confirm_disconnect":
            # The button value came back from Slack: signed by Slack, but it is whatever the client sent.
            source, target, ticket = _confirmation(value)
            trigger, response_url = payload.get("trigger_id"), payload.get("response_url")
            # Without a trigger id there is nothing to dedupe on: such clicks must not all share one request.
            accepted = self._submit(
                Submit(Action.DISCONNECT, source, target, requester, ticket),
                key=f"slack-action:{_checked(trigger, _TOKEN, 'trigger_id')}" if trigger else None,
                callbacks=(Callback("slack", _url(response_url, "response_url")),) if response_url else (),
            )
            return {
                "replace_original": True,
                "text": f"Disconnect requested: {source.short} ⇄ {target.short} "
                f"(request {accepted.request_id}). Someone else must approve it.",
            }
        if action_id in ("approve", "reject"):
            request_id, _, fingerprint = value.partition(":")
            if not _REQUEST_ID.fullmatch(request_id) or not _FINGERPRINT.fullmatch(fingerprint):
                raise ValidationError("the button value is not '<request id>:<fingerprint>'", code="INVALID_PAYLOAD")
            try:
                request = self.approvals.decide(
                    request_id, requester, approve=action_id == "approve", fingerprint=fingerprint
                )
            except InterconnectError as exc:
                if exc.retryable:
                    raise
                return {"replace_original": False, "response_type": "ephemeral", "text": f"Not done: {exc.message}"}
            verb = "Approved" if action_id == "approve" else "Rejected"
            return {
                "replace_original": True,
                "text": f"{verb} by <@{user_id}>: request {request.id} is now {request.status.value}.",
            }
        return {"replace_original": False, "response_type": "ephemeral", "text": "That button is no longer valid."}

    # -- Teams ----------------------------------------------------------------------------------------

    def teams(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        signatures.verify_teams(headers, body, self.channels.teams_secrets)
        activity = parse_json(body, max_bytes=TEAMS_LIMIT, what="the Teams activity", code="INVALID_PAYLOAD")
        text, sender, raw_id = activity.get("text", ""), activity.get("from") or {}, activity.get("id", "")
        if not isinstance(text, str) or not isinstance(sender, dict) or not isinstance(raw_id, str | int):
            raise ValidationError("not a Teams activity", code="INVALID_PAYLOAD")
        activity_id = _checked(str(raw_id), _TOKEN, "id") if str(raw_id) else ""
        sender_id = sender.get("aadObjectId") or sender.get("id") or "unknown"
        requester = Requester(
            "teams", _checked(sender_id, _SENDER_ID, "from.id"), _display(sender.get("name", ""), "from.name")
        )
        # No timestamp is signed, so a replayed activity must map to the request it already made.
        reply = self._run(
            parse_command(text),
            requester,
            key=f"teams:{activity_id}" if activity_id else None,
            callbacks=(Callback("teams"),),
        )
        return {"type": "message", "text": reply}

    # -- shared ---------------------------------------------------------------------------------------

    def _run(
        self, parsed: ChatCommand | ChatReply, requester: Requester, *, key: str | None, callbacks: tuple[Callback, ...]
    ) -> str:
        """Carry out one chat command; always returns the text to answer with."""
        if isinstance(parsed, ChatReply):
            return parsed.text
        try:
            if parsed.verb == "status":
                view = self.queries.request(parsed.args[0])
                return (
                    f"{view['action']} {view['source'].rsplit('/', 1)[-1]} ⇄ {view['target'].rsplit('/', 1)[-1]}: "
                    f"{view['status']}" + (f" — {view['outcome']}" if view["outcome"] else "")
                )
            resolved = self._resolve(parsed.args)
            if isinstance(resolved, str):
                return resolved
            if parsed.verb == "links":
                return _links_reply(resolved[0], self.queries.links(resolved[0]))
            action = Action.CONNECT if parsed.verb in ("connect", "plan") else Action.DISCONNECT
            command = Submit(action, resolved[0], resolved[1], requester, parsed.ticket)
            if parsed.verb == "plan":
                plan = self.queries.plan(command)
                lines = [f"Would {plan['wouldDo']}: {plan['outcome']}" if plan["allowed"] else "Would be refused:"]
                return "\n".join(lines + [f"• {r['code']}: {r['message']}" for r in plan["reasons"]])
            accepted = self._submit(command, key=key, callbacks=callbacks)
            needs = " It needs approval by someone else." if action is Action.DISCONNECT else ""
            return (
                f"Request {accepted.request_id} accepted: {action.value} {resolved[0].short} ⇄ {resolved[1].short}."
                f"{needs} I'll report the outcome here."
            )
        except DependencyError:
            raise
        except InterconnectError as exc:
            return f"Sorry: {exc.message}"

    def _submit(self, command: Submit, *, key: str | None, callbacks: tuple[Callback, ...]) -> Accepted:
        if command.source == command.target:
            raise ValidationError(
                f"source and target are the same private cloud ({command.source.short})", code="SAME_CLOUD"
            )
        request, created = self.intake.submit(command, idempotency_key=key, callbacks=callbacks)
        return Accepted(request.id, request.status.value, created)

    def _resolve(self, refs: tuple[str, ...]) -> tuple[CloudId, ...] | str:
        """The clouds named, or the reply that asks which one was meant."""
        found = []
        for ref in refs:
            result = resolve_listed(ref, self.clouds.list)
            if not isinstance(result, Resolved):
                return result.reply
            found.append(result.cloud)
        return tuple(found)


def _form(body: bytes, limit: int) -> dict[str, str]:
    """A form-encoded body within `limit` bytes and 50 fields. Raises TooLargeError or ValidationError."""
    if len(body) > limit:
        raise TooLargeError(f"the body is {len(body)} bytes; at most {limit} are accepted", details={"limit": limit})
    try:
        return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=50).items()}
    except ValueError:
        raise ValidationError("the form has more than 50 fields", code="INVALID_PAYLOAD") from None


def _checked(value: object, grammar: re.Pattern[str], name: str) -> str:
    """`value` if it is text matching `grammar`; otherwise ValidationError naming the field, not the value."""
    if not isinstance(value, str) or not grammar.fullmatch(value):
        raise ValidationError(
            f"{name} is not a well-formed identifier", code="INVALID_PAYLOAD", details={"field": name}
        )
    return value


def _display(value: object, name: str) -> str:
    """A display name: single-line text of at most MAX_DISPLAY characters."""
    if not isinstance(value, str) or len(value) > MAX_DISPLAY or not value.isprintable():
        raise ValidationError(
            f"{name} is not a single-line name of at most {MAX_DISPLAY} characters",
            code="INVALID_PAYLOAD",
            details={"field": name},
        )
    return value


def _url(value: object, name: str) -> str:
    """A callback URL a channel gave us (we POST the outcome there later): absolute http(s), no credentials,
    no whitespace, bounded."""
    parsed = urllib.parse.urlsplit(value) if isinstance(value, str) and len(value) <= MAX_URL else None
    if (
        parsed is None
        or not isinstance(value, str)
        or parsed.scheme not in ("https", "http")
        or not parsed.hostname
        or parsed.username
        or parsed.password
        or not value.isascii()
        or any(c.isspace() for c in value)
    ):
        raise ValidationError(
            f"{name} is not an absolute http(s) URL of at most {MAX_URL} characters",
            code="INVALID_PAYLOAD",
            details={"field": name},
        )
    return value


def _confirmation(value: str) -> tuple[CloudId, CloudId, str]:
    """The clouds and ticket a confirm_disconnect button carries, held to the REST API's rules.

    Buttons posted before ids were sent whole carry {subscription, resource_group, name} objects; both forms
    go through `parse_cloud_id`, so nothing reaches intake that the REST API would refuse.
    """
    chosen = boundedjson.loads(
        value, max_bytes=MAX_BUTTON_VALUE, max_depth=3, what="the button value", code="INVALID_PAYLOAD"
    )
    if not isinstance(chosen, dict) or not {"source", "target"} <= set(chosen) <= {"source", "target", "ticket"}:
        raise ValidationError("the confirmation does not name two clouds", code="INVALID_PAYLOAD")
    clouds = []
    for name in ("source", "target"):
        given = chosen[name]
        if isinstance(given, dict):
            if set(given) != {"subscription", "resource_group", "name"} or not all(
                isinstance(v, str) for v in given.values()
            ):
                raise ValidationError(
                    f"the confirmation's {name} is not a private cloud", code="INVALID_ID", details={"field": name}
                )
            given = (
                f"/subscriptions/{given['subscription']}/resourceGroups/{given['resource_group']}"
                f"/providers/Microsoft.AVS/privateClouds/{given['name']}"
            )
        clouds.append(parse_cloud_id(given, field_name=name))
    ticket = chosen.get("ticket", "")
    if not isinstance(ticket, str) or (ticket and not TICKET.fullmatch(ticket)):
        raise ValidationError(
            "the confirmation's ticket is not one token of at most 64 characters",
            code="INVALID_FIELD",
            details={"field": "ticket"},
        )
    return clouds[0], clouds[1], ticket


def _links_reply(cloud: CloudId, answer: dict[str, Any]) -> str:
    """A cloud's links as chat shows them. A listing ARM refused or answered malformed is said to be partial:
    "has no links" must never stand for "could not read its links"."""
    listing, refused = answer["value"], answer["refusedReads"]
    if listing:
        lines = [f"Links of {cloud.short}:"]
        lines += [f"• {v['direction']} {v['otherCloud'].rsplit('/', 1)[-1]}: {v['status']}" for v in listing]
    else:
        lines = [f"{cloud.short}: no links could be read." if refused else f"{cloud.short} has no links."]
    lines += [
        f"⚠ Incomplete: {r['read']} of {r['cloud'].rsplit('/', 1)[-1]} could not be read ({r['armCode']})."
        for r in refused
    ]
    return "\n".join(lines)


def _slack_text(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def _confirm_disconnect(clouds: tuple[CloudId, ...], ticket: str) -> dict[str, Any]:
    """Ask before removing a link: a danger-styled button behind a confirmation dialog."""
    source, target = clouds
    value = json.dumps({"source": str(source), "target": str(target), "ticket": ticket})
    text = f"Disconnect {source.short} ⇄ {target.short}? Traffic between them stops once it is approved and done."
    return {
        "response_type": "ephemeral",
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "confirm_disconnect",
                        "style": "danger",
                        "value": value,
                        "text": {"type": "plain_text", "text": "Request disconnect"},
                        "confirm": {
                            "title": {"type": "plain_text", "text": "Remove this link?"},
                            "text": {
                                "type": "mrkdwn",
                                "text": f"{source.short} and {target.short} will stop routing to each other.",
                            },
                            "confirm": {"type": "plain_text", "text": "Request it"},
                            "deny": {"type": "plain_text", "text": "Cancel"},
                            "style": "danger",
                        },
                    }
                ],
            },
        ],
    }
