"""Audit findings: what is wrong with the links that exist, as plain data with stable codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CRITICAL, WARNING, INFO = "critical", "warning", "info"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    clouds: tuple[str, ...]  # ARM ids involved
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Stable across runs, so a run can say which findings are new, still open or resolved."""
        subject = self.details.get("link") or self.details.get("requestId") or ""
        return "|".join([self.code, *sorted(c.lower() for c in self.clouds), str(subject).lower()])

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "clouds": list(self.clouds), "message": self.message,
                "details": self.details, "key": self.key}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Finding:
        return cls(raw["code"], raw["severity"], tuple(raw["clouds"]), raw["message"], raw.get("details") or {})


# ---------------------------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class ManagedLink:
    """A link our requests made: where it lives, and which request made it."""

    holder: str  # ARM id of the cloud holding the link
    name: str
    other: str  # ARM id of the other end
    request_id: str


@dataclass(frozen=True)
class Thresholds:
    stuck_minutes: float = 60
    stale_minutes: float = 60


def link_key(holder: str, name: str) -> str:
    return f"{holder.lower()}|{name.lower()}"
