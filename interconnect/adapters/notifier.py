"""Outbound callbacks over HTTP: ticket comments, Slack response_url, Teams Workflows, signed webhook events.

Plain stdlib HTTP: each call is one small JSON request, and the retry policy belongs to the worker (it
re-sends a failed notification with backoff), not to a client library.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from interconnect.adapters import telemetry
from interconnect.channels import announcements
from interconnect.channels.config import Channels, HookSource
from interconnect.channels.signatures import sign_standard_webhook
from interconnect.errors import DependencyError, InterconnectError
from interconnect.linking.model import AuditEvent, Callback, LinkRequest

TIMEOUT = 10


def is_allowed_url(url: str) -> bool:
    """Callbacks go to https URLs, or to loopback over http (the local cloud's sinks)."""
    parsed = urllib.parse.urlparse(url)
    return parsed.scheme == "https" or (parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost"))


def send(method: str, url: str, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None) -> None:
    """Raises DependencyError on 408/429/5xx and network errors, InterconnectError on other refusals."""
    if not is_allowed_url(url):
        raise InterconnectError("callback URL must be https", code="CALLBACK_URL_REFUSED")
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    host = urllib.parse.urlsplit(url).hostname or ""  # the host alone on a span: a path or query may hold a secret
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            response.read()
            telemetry.annotate_current({"http.response.status_code": response.status, "server.address": host})
    except urllib.error.HTTPError as err:
        telemetry.annotate_current({"http.response.status_code": err.code, "server.address": host})
        with err:
            retry_after = err.headers.get("Retry-After")
        if err.code in (408, 429) or err.code >= 500:
            raise DependencyError(
                f"callback answered {err.code}",
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            ) from None
        raise InterconnectError(f"callback refused with {err.code}", code="CALLBACK_REFUSED") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DependencyError(f"callback unreachable ({type(exc).__name__})") from None


class HttpNotifier:
    """`Notifier` over HTTP, configured by the channel settings."""

    def __init__(self, channels: Channels) -> None:
        self._channels = channels

    def deliver(self, callback: Callback, request: LinkRequest, event: AuditEvent) -> None:
        attributes = {
            "interconnect.channel": callback.kind,
            "interconnect.request.id": request.id,
            "interconnect.request.action": request.action.value,
            "interconnect.request.status": event.status.value,
            "interconnect.cloud.source": request.source.name,
            "interconnect.cloud.target": request.target.name,
        }
        with telemetry.span(f"notify {callback.kind}", "client", attributes):
            self._deliver(callback, request, event)

    def _deliver(self, callback: Callback, request: LinkRequest, event: AuditEvent) -> None:
        if callback.kind == "slack":
            message = announcements.slack_message(request, event)
            if event.status.value == "AwaitingApproval":
                message["blocks"].append(announcements.approval_buttons(request))
            send("POST", callback.target, message)
        elif callback.kind == "teams":
            if self._channels.teams_workflow_url:
                send("POST", self._channels.teams_workflow_url, announcements.adaptive_card(request, event))
        elif callback.kind == "hook":
            source = self._channels.hooks.get(callback.target)
            if source is None:
                raise InterconnectError(
                    f"hook source {callback.target} is no longer configured", code="CALLBACK_NOT_CONFIGURED"
                )
            if source.callback_url:
                self._hook(source, callback, request, event)
        else:
            raise InterconnectError(f"unknown callback kind {callback.kind}", code="CALLBACK_NOT_CONFIGURED")

    @staticmethod
    def _hook(source: HookSource, callback: Callback, request: LinkRequest, event: AuditEvent) -> None:
        auth = {"Authorization": source.callback_authorization} if source.callback_authorization else {}
        if source.type == "jira":
            key = urllib.parse.quote(callback.ticket, safe="")
            send(
                "POST",
                f"{source.callback_url}/rest/api/3/issue/{key}/comment",
                announcements.jira_comment(request, event),
                auth,
            )
        elif source.type == "servicenow":
            # The ticket's sys_id travels in the callback target after the source name.
            sys_id = urllib.parse.quote(callback.ticket.split("#", 1)[-1], safe="")
            table = urllib.parse.quote(source.callback_table, safe="")
            send(
                "PATCH",
                f"{source.callback_url}/api/now/table/{table}/{sys_id}",
                announcements.servicenow_note(request, event),
                auth,
            )
        else:
            body = announcements.webhook_event(request, event)
            raw = json.dumps(body).encode()
            headers = sign_standard_webhook(source.callback_signing, f"msg_{uuid.uuid4().hex}", int(time.time()), raw)
            send("POST", source.callback_url, raw, {**auth, **headers})  # signed bytes are the bytes sent


class WebhookChatPoster:
    """Posts audit news to a chat webhook (a Slack incoming webhook or a Teams Workflows URL)."""

    def __init__(self, url: str) -> None:
        self._url = url

    def post(self, text: str) -> None:
        with telemetry.span("notify chat", "client", {"interconnect.channel": "chat"}):
            send("POST", self._url, {"text": text})
