"""What we tell each channel about a request, as plain data: pure, so every shape is unit-tested."""

from __future__ import annotations

from typing import Any

from interconnect.linking.model import AuditEvent, LinkRequest, Status

ICONS = {
    Status.SUCCEEDED: "✅",
    Status.REJECTED: "⛔",
    Status.FAILED: "❌",
    Status.EXPIRED: "⌛",
    Status.AWAITING_APPROVAL: "✋",
    Status.IN_PROGRESS: "⏳",
}


def summary(request: LinkRequest, event: AuditEvent) -> str:
    """One line a person reads in a ticket or a chat: what, between which clouds, where it stands, and why."""
    line = (
        f"{ICONS.get(event.status, '•')} {request.action.value} {request.source.short} ⇄ {request.target.short}: "
        f"{event.status.value}"
    )
    detail = request.outcome if event.status.is_terminal else event.message
    if detail:
        line += f" — {detail}"
    reasons = [r for r in request.reasons if r.message not in detail] if event.status.is_terminal else []
    line += "".join(f"\n  • {r.code}: {r.message}" for r in reasons)
    return line + f"\n(request {request.id})"


def mrkdwn(text: str) -> str:
    """`text` as Slack mrkdwn shows it literally: `&`, `<` and `>` escaped as Slack asks, so no `<!here>` or
    `<url|label>` in a message or reference can ping or link (api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(request: LinkRequest, event: AuditEvent) -> dict[str, Any]:
    """Block Kit with a plain-text fallback (Slack shows `text` in notifications and where blocks cannot render)."""
    text = summary(request, event)
    fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{value}"}
        for label, value in (
            ("Action", request.action.value),
            ("Status", event.status.value),
            ("Source", request.source.short),
            ("Target", request.target.short),
        )
        if value
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": f"{ICONS.get(event.status, '')} Link request {event.status.value}"[:150],
            },
        },
        {"type": "section", "fields": fields},
        # The message (for a disconnect awaiting approval, what it cuts: linking/impact.cut_line) is mrkdwn here.
        {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(request.outcome or event.message)[:2900] or " "}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"request `{request.id}`"
                    + (f" · {mrkdwn(request.reference)}" if request.reference else ""),
                }
            ],
        },
    ]
    return {"response_type": "ephemeral", "replace_original": False, "text": text, "blocks": blocks}


def approval_buttons(request: LinkRequest) -> dict[str, Any]:
    """An actions block for approvers; the value binds the click to this exact request."""
    value = f"{request.id}:{request.fingerprint}"
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "style": "primary",
                "value": value,
                "text": {"type": "plain_text", "text": "Approve"},
            },
            {
                "type": "button",
                "action_id": "reject",
                "style": "danger",
                "value": value,
                "text": {"type": "plain_text", "text": "Reject"},
            },
        ],
    }


def adaptive_card(request: LinkRequest, event: AuditEvent) -> dict[str, Any]:
    """A Teams Workflows message carrying one Adaptive Card."""
    facts = [
        {"title": t, "value": v}
        for t, v in (
            ("Action", request.action.value),
            ("Status", event.status.value),
            ("Source", request.source.short),
            ("Target", request.target.short),
            ("Request", request.id),
        )
        if v
    ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "weight": "Bolder",
                "size": "Medium",
                "text": f"{ICONS.get(event.status, '')} Link request {event.status.value}",
            },
            {"type": "FactSet", "facts": facts},
            {"type": "TextBlock", "wrap": True, "text": request.outcome or event.message},
        ],
    }
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def jira_comment(request: LinkRequest, event: AuditEvent) -> dict[str, Any]:
    """Jira Cloud REST v3 comment body, in Atlassian Document Format."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]}
        for line in summary(request, event).splitlines()
        if line.strip()
    ]
    return {"body": {"type": "doc", "version": 1, "content": paragraphs}}


def servicenow_note(request: LinkRequest, event: AuditEvent) -> dict[str, Any]:
    return {"work_notes": summary(request, event)}


def webhook_event(request: LinkRequest, event: AuditEvent) -> dict[str, Any]:
    view = request.to_view()
    return {
        "type": f"request.{event.status.value.lower()}",
        "timestamp": event.at.isoformat(),
        "data": {
            key: view[key]
            for key in ("requestId", "action", "status", "source", "target", "reference", "outcome", "reasons")
            if key in view
        },
    }
