"""The port a channel delivery goes out through. The notifier adapter implements it; tests use the fake."""

from __future__ import annotations

from typing import Protocol

from interconnect.linking.model import AuditEvent, Callback, LinkRequest


class Notifier(Protocol):
    """Tells a requester's channel how their request is going (ticket comment, chat message, signed event)."""

    def deliver(self, callback: Callback, request: LinkRequest, event: AuditEvent) -> None:
        """Raises DependencyError when a retry may help, InterconnectError when it cannot."""
