"""The ports the audit talks to: its store, the chat it posts a summary to, and the SVG renderer. Adapters
implement them (tables, notifier, graphviz); tests use the in-memory fakes."""

from __future__ import annotations

from typing import Protocol

from interconnect.audit.model import AuditRun, Inventory, ManagedLink


class AuditStore(Protocol):
    def save(self, run: AuditRun, inventory: Inventory) -> None: ...

    def get(self, run_id: str) -> AuditRun:
        """Raises NotFoundError."""

    def latest(self) -> AuditRun | None: ...

    def inventory(self, run_id: str) -> Inventory: ...

    def managed_links(self) -> list[ManagedLink]:
        """Links our succeeded connects made and no later disconnect removed."""


class ChatPoster(Protocol):
    def post(self, text: str) -> None: ...


class SvgRenderer(Protocol):
    def __call__(self, dot: str) -> bytes:
        """`dot` laid out as SVG. Raises RenderError (RENDERER_UNAVAILABLE, RENDER_TIMEOUT, RENDER_FAILED)."""
