"""Private cloud ARM ids: parse, normalise, compare and hash them.

ARM compares resource ids case-insensitively and clients spell them in several cases
(`resourceGroups` vs `resourcegroups`), so equality and hashing use a lower-cased form while the id
shown to people keeps the canonical segment names and the caller's spelling of the names.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from interconnect.errors import ValidationError

# Names as ARM allows them: subscription is a GUID; resource group 1-90 of word chars, '-', '_', '.', '(' ,')'
# and not ending in '.'; private cloud names per the AVS spec (`^[-\w\._]+$`).
_CLOUD_ID = re.compile(
    r"^/subscriptions/(?P<sub>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"/resourceGroups/(?P<rg>[-\w\.\(\)]{0,89}[-\w\(\)])"
    r"/providers/Microsoft\.AVS/privateClouds/(?P<name>[-\w\.]{1,80})/?$",
    re.IGNORECASE | re.ASCII,
)


@dataclass(frozen=True)
class CloudId:
    """A private cloud's identity. Equal and hashed case-insensitively, as ARM compares ids."""

    subscription: str = field(compare=False)
    resource_group: str = field(compare=False)
    name: str = field(compare=False)
    normalized: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "normalized", str(self).lower())

    def __str__(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.AVS/privateClouds/{self.name}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CloudId) and other.normalized == self.normalized

    def __hash__(self) -> int:
        return hash(self.normalized)

    @property
    def key(self) -> str:
        """A table-key-safe digest of the id (ARM ids contain `/`, which table keys forbid)."""
        return hashlib.sha256(self.normalized.encode()).hexdigest()[:32]

    @property
    def short(self) -> str:
        return f"{self.resource_group}/{self.name}"


def parse_cloud_id(value: object, *, field_name: str = "id") -> CloudId:
    """Parse a private cloud ARM id.

    Raises
    ------
    ValidationError
        code INVALID_ID when `value` is not a private cloud resource id.
    """
    if not isinstance(value, str) or not (match := _CLOUD_ID.match(value.strip())):
        shown = value if isinstance(value, str) and len(value) <= 300 else type(value).__name__
        raise ValidationError(
            f"{field_name} must be a private cloud ARM id like /subscriptions/<guid>/resourceGroups/<group>"
            f"/providers/Microsoft.AVS/privateClouds/<name>; got {shown!r}",
            code="INVALID_ID", details={"field": field_name},
        )
    return CloudId(match["sub"].lower(), match["rg"], match["name"])


def link_name(target: CloudId) -> str:
    """The deterministic name of the link we create towards `target`.

    Deterministic so that a retried or redelivered PUT lands on the same resource and can never make a
    second link; readable so that a person in the portal sees where it points.
    """
    digest = hashlib.sha256(target.normalized.encode()).hexdigest()[:10]
    return f"ic-{target.name[:60].lower()}-{digest}"
