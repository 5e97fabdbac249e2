"""Requests that arrive from ticketing webhooks, Slack and Teams: verify, parse, hand to intake, answer fast.

Each channel's signature is checked over the raw body before anything is parsed. Answers stay within the
sender's deadline (Slack 3 s, Teams 5 s) because nothing here touches ARM except the read-only chat commands
(`plan`, `links`) and the cached list of clouds that short names are resolved against.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from interconnect import signatures
from interconnect.approvals import Approvals
from interconnect.armid import CloudId
from interconnect.channels import Channels, HookSource
from interconnect.chat import ChatCommand, ChatReply, Resolved, parse_command, resolve_cloud
from interconnect.errors import DependencyError, InterconnectError, NotFoundError, ValidationError
from interconnect.intake import Intake
from interconnect.model import Action, Callback, Requester
from interconnect.ports import AvsGateway
from interconnect.queries import Queries
from interconnect.ticketmap import MappingError, map_ticket
from interconnect.validation import Submit, parse_json, parse_submit

log = logging.getLogger(__name__)
CLOUD_CACHE_SECONDS = 300


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
    avs: AvsGateway
    subscriptions: tuple[str, ...]
    now: Callable[[], float] = time.time
    _clouds: tuple[float, list[CloudId]] = field(default=(0.0, []), repr=False)

    # -- ticketing webhooks ---------------------------------------------------------------------------

    def hook(self, source_name: str, headers: Mapping[str, str], body: bytes) -> Accepted:
        """Raises NotFoundError (unknown source), SignatureError (401), MappingError/ValidationError (422)."""
        source = self.channels.hooks.get(source_name)
        if source is None:
            raise NotFoundError(f"no webhook source named {source_name!r} is configured", code="UNKNOWN_SOURCE")
        delivery = self._verify_hook(source, headers, body)
        payload = parse_json(body)
        fields = map_ticket(payload, source.mapping)
        requester = Requester(source.name, fields.requester or "unknown", fields.requester)
        try:
            command = parse_submit(fields.as_request_body(), caller=requester)
        except ValidationError as exc:
            raise MappingError(f"the ticket maps to an unusable request: {exc.message}",
                               details={"invalid": [exc.details | {"code": exc.code}]}) from exc
        ticket = fields.reference
        if source.type == "servicenow" and isinstance(payload.get("sys_id"), str):
            ticket = f"{fields.reference}#{payload['sys_id']}"  # the callback PATCHes the record by sys_id
        # Sender retries carry the same ticket, action and pair (and delivery id), so they map to one request.
        pair = "|".join(sorted((command.source.normalized, command.target.normalized)))
        key = f"{source.name}:{fields.reference}:{command.action.value}:{pair}"
        request, created = self.intake.submit(command, idempotency_key=key, correlation_id=delivery or "",
                                              callbacks=(Callback("hook", source.name, ticket),))
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
        form = _form(body)
        team, user = form.get("team_id", ""), form.get("user_id", "")
        requester = Requester("slack", f"{team}/{user}", form.get("user_name", ""))
        parsed = parse_command(form.get("text", ""))
        if isinstance(parsed, ChatCommand) and parsed.verb == "disconnect":
            clouds = self._resolve(parsed.args)
            if isinstance(clouds, str):
                return _slack_text(clouds)
            return _confirm_disconnect(clouds, parsed.ticket)
        trigger, response_url = form.get("trigger_id"), form.get("response_url")
        reply = self._run(parsed, requester, key=f"slack:{trigger}" if trigger else None,
                          callbacks=(Callback("slack", response_url),) if response_url else ())
        return _slack_text(reply)

    def slack_action(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        signatures.verify_slack(headers, body, self.channels.slack_secrets, now=self.now())
        try:
            payload = json.loads(_form(body).get("payload", ""))
            action = payload["actions"][0]
            user = payload["user"]
            requester = Requester("slack", f"{payload.get('team', {}).get('id', '')}/{user['id']}",
                                  user.get("username", user.get("name", "")))
            action_id, value = action["action_id"], action.get("value", "")
        except (ValueError, KeyError, IndexError, TypeError):
            raise ValidationError("not a Slack block_actions payload", code="INVALID_PAYLOAD") from None
        if action_id == "confirm_disconnect":
            try:
                chosen = json.loads(value)
                source, target = CloudId(**chosen["source"]), CloudId(**chosen["target"])
            except (ValueError, KeyError, TypeError):
                raise ValidationError("the confirmation does not name two clouds", code="INVALID_PAYLOAD") from None
            accepted = self._submit(Submit(Action.DISCONNECT, source, target, requester, chosen.get("ticket", "")),
                                    key=f"slack-action:{payload.get('trigger_id', '')}",
                                    callbacks=(Callback("slack", payload.get("response_url", "")),))
            return {"replace_original": True, "text": f"Disconnect requested: {source.short} ⇄ {target.short} "
                                                      f"(request {accepted.request_id}). Someone else must approve it."}
        if action_id in ("approve", "reject"):
            request_id, _, fingerprint = value.partition(":")
            try:
                request = self.approvals.decide(request_id, requester, approve=action_id == "approve",
                                                fingerprint=fingerprint)
            except InterconnectError as exc:
                if exc.retryable:
                    raise
                return {"replace_original": False, "response_type": "ephemeral", "text": f"Not done: {exc.message}"}
            verb = "Approved" if action_id == "approve" else "Rejected"
            return {"replace_original": True, "text": f"{verb} by <@{payload['user']['id']}>: request {request.id} "
                                                      f"is now {request.status.value}."}
        return {"replace_original": False, "response_type": "ephemeral", "text": "That button is no longer valid."}

    # -- Teams ----------------------------------------------------------------------------------------

    def teams(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        signatures.verify_teams(headers, body, self.channels.teams_secrets)
        try:
            activity = json.loads(body)
            text = activity.get("text", "")
            sender = activity.get("from") or {}
            activity_id = str(activity.get("id", ""))
        except (ValueError, AttributeError):
            raise ValidationError("not a Teams activity", code="INVALID_PAYLOAD") from None
        requester = Requester("teams", str(sender.get("aadObjectId") or sender.get("id") or "unknown"),
                              str(sender.get("name", "")))
        # No timestamp is signed, so a replayed activity must map to the request it already made.
        reply = self._run(parse_command(text), requester, key=f"teams:{activity_id}" if activity_id else None,
                          callbacks=(Callback("teams"),))
        return {"type": "message", "text": reply}

    # -- shared ---------------------------------------------------------------------------------------

    def _run(self, parsed: ChatCommand | ChatReply, requester: Requester, *, key: str | None,
             callbacks: tuple[Callback, ...]) -> str:
        """Carry out one chat command; always returns the text to answer with."""
        if isinstance(parsed, ChatReply):
            return parsed.text
        try:
            if parsed.verb == "status":
                view = self.queries.request(parsed.args[0])
                return (f"{view['action']} {view['source'].rsplit('/', 1)[-1]} ⇄ {view['target'].rsplit('/', 1)[-1]}: "
                        f"{view['status']}" + (f" — {view['outcome']}" if view["outcome"] else ""))
            resolved = self._resolve(parsed.args)
            if isinstance(resolved, str):
                return resolved
            if parsed.verb == "links":
                listing = self.queries.links(resolved[0])["value"]
                return "\n".join([f"Links of {resolved[0].short}:"] + [
                    f"• {v['direction']} {v['otherCloud'].rsplit('/', 1)[-1]}: {v['status']}" for v in listing]
                ) if listing else f"{resolved[0].short} has no links."
            action = Action.CONNECT if parsed.verb in ("connect", "plan") else Action.DISCONNECT
            command = Submit(action, resolved[0], resolved[1], requester, parsed.ticket)
            if parsed.verb == "plan":
                plan = self.queries.plan(command)
                lines = [f"Would {plan['wouldDo']}: {plan['outcome']}" if plan["allowed"] else "Would be refused:"]
                return "\n".join(lines + [f"• {r['code']}: {r['message']}" for r in plan["reasons"]])
            accepted = self._submit(command, key=key, callbacks=callbacks)
            needs = " It needs approval by someone else." if action is Action.DISCONNECT else ""
            return (f"Request {accepted.request_id} accepted: {action.value} {resolved[0].short} ⇄ {resolved[1].short}."
                    f"{needs} I'll report the outcome here.")
        except DependencyError:
            raise
        except InterconnectError as exc:
            return f"Sorry: {exc.message}"

    def _submit(self, command: Submit, *, key: str | None, callbacks: tuple[Callback, ...]) -> Accepted:
        if command.source == command.target:
            raise ValidationError(f"source and target are the same private cloud ({command.source.short})",
                                  code="SAME_CLOUD")
        request, created = self.intake.submit(command, idempotency_key=key, callbacks=callbacks)
        return Accepted(request.id, request.status.value, created)

    def _resolve(self, refs: tuple[str, ...]) -> tuple[CloudId, ...] | str:
        """The clouds named, or the reply that asks which one was meant."""
        known = self._known_clouds()
        found = []
        for ref in refs:
            result = resolve_cloud(ref, known)
            if not isinstance(result, Resolved):
                return result.reply
            found.append(result.cloud)
        return tuple(found)

    def _known_clouds(self) -> list[CloudId]:
        """The clouds of the configured subscriptions, cached: a chat command must answer within seconds."""
        fetched_at, clouds = self._clouds
        if self.now() - fetched_at < CLOUD_CACHE_SECONDS:
            return clouds
        clouds = []
        for subscription in self.subscriptions:
            try:
                clouds += [cloud.id for cloud in self.avs.list_clouds(subscription)]
            except InterconnectError as exc:
                log.warning("cannot list clouds of %s: %s", subscription, exc.message)
        self._clouds = (self.now(), clouds)
        return clouds


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}


def _slack_text(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def _confirm_disconnect(clouds: tuple[CloudId, ...], ticket: str) -> dict[str, Any]:
    """Ask before removing a link: a danger-styled button behind a confirmation dialog."""
    source, target = clouds
    value = json.dumps({"source": vars_of(source), "target": vars_of(target), "ticket": ticket})
    text = f"Disconnect {source.short} ⇄ {target.short}? Traffic between them stops once it is approved and done."
    return {"response_type": "ephemeral", "text": text, "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "elements": [{
            "type": "button", "action_id": "confirm_disconnect", "style": "danger", "value": value,
            "text": {"type": "plain_text", "text": "Request disconnect"},
            "confirm": {"title": {"type": "plain_text", "text": "Remove this link?"},
                        "text": {"type": "mrkdwn", "text": f"{source.short} and {target.short} will stop routing "
                                                           "to each other."},
                        "confirm": {"type": "plain_text", "text": "Request it"},
                        "deny": {"type": "plain_text", "text": "Cancel"}, "style": "danger"}}]}]}


def vars_of(cloud: CloudId) -> dict[str, str]:
    return {"subscription": cloud.subscription, "resource_group": cloud.resource_group, "name": cloud.name}

