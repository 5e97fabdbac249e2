"""Private cloud ARM ids: parse, normalise, compare and hash them, and place them in URLs.

ARM compares resource ids case-insensitively and clients spell them in several cases
(`resourceGroups` vs `resourcegroups`), so equality and hashing use a lower-cased form while the id
shown to people keeps the canonical segment names and the caller's spelling of the names.

Every segment is held to the grammar ARM allows before an id is accepted, because ids end up in URLs:
`privateClouds/.` and `privateClouds/..` are dot segments that HTTP clients remove (urllib3 turns
`…/privateClouds/..` into `…/providers/Microsoft.AVS/`), so a name like that silently turns a read of one
cloud into a list call or a call on the parent resource. A name ending in `.` is refused for the same
reason: IIS-based front ends such as ARM's drop trailing dots from path segments. `%`, `/`, `\\`, `?`, `#`
and every other separator are outside the grammar, so a valid segment is always exactly one URL segment.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from dataclasses import dataclass, field

from interconnect.errors import ValidationError

# ARM's rules, ASCII only (`\w` below is [A-Za-z0-9_]): ARM also allows Unicode letters in resource group
# names, but no private cloud we know of uses them and each would be one more spelling to compare.
SUBSCRIPTION = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Resource group: 1-90 of letters, digits, '-', '_', '.', '(', ')'; not ending in '.'.
RESOURCE_GROUP = re.compile(r"[-\w.()]{0,89}[-\w()]", re.ASCII)
# Private cloud and cloud link names: the AVS spec's `^[-\w\._]+$`, at most 80 long, not ending in '.'
# (which also rules out '.' and '..').
RESOURCE_NAME = re.compile(r"[-\w.]{0,79}[-\w]", re.ASCII)
MAX_ID_LENGTH = 512  # the longest valid id is about 300 characters; longer input is not looked at
_LITERALS = ((1, "subscriptions"), (3, "resourceGroups"), (5, "providers"), (6, "Microsoft.AVS"), (7, "privateClouds"))
_SHAPE = "/subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.AVS/privateClouds/<name>"


@dataclass(frozen=True)
class CloudId:
    """A private cloud's identity. Equal and hashed case-insensitively, as ARM compares ids.

    Build one with `parse_cloud_id`: the constructor itself checks nothing (renderers are tested with odd
    values on purpose), so input from outside must never reach it directly.
    """

    subscription: str = field(compare=False)
    resource_group: str = field(compare=False)
    name: str = field(compare=False)
    normalized: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "normalized", str(self).lower())

    def __str__(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.AVS/privateClouds/{self.name}"
        )

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

    @property
    def url_path(self) -> str:
        """The id as a URL path, each name percent-encoded as one segment (as the AVS SDK encodes its path
        parameters: `quote(value, safe="")`)."""
        return (
            f"/subscriptions/{segment(self.subscription)}/resourceGroups/{segment(self.resource_group)}"
            f"/providers/Microsoft.AVS/privateClouds/{segment(self.name)}"
        )


def segment(value: str) -> str:
    """`value` percent-encoded as exactly one URL path segment."""
    return urllib.parse.quote(value, safe="")


def _refuse(field_name: str, problem: str, part: str | None = None) -> ValidationError:
    # The message never repeats the input: it may be huge, or carry markup a chat would render.
    details = {"field": field_name} | ({"segment": part} if part else {})
    return ValidationError(f"{field_name} {problem}", code="INVALID_ID", details=details)


def _segment(field_name: str, part: str, value: str, *, what: str, pattern: re.Pattern[str], rule: str) -> None:
    """Refuse `value` as the `part` segment unless it matches `pattern` (else `rule` says why); '.' and '..' are
    named as path steps first, since they would change a URL's shape."""
    if value in (".", ".."):
        raise _refuse(field_name, f"names '{value}' as its {what}: '.' and '..' are path steps, not names", part)
    if not pattern.fullmatch(value):
        raise _refuse(field_name, rule, part)


_GROUP_RULE = (
    "has a resource group name that is not 1-90 letters, digits, '-', '_', '.', "
    "'(' or ')' ending in something other than '.'"
)
_NAME_RULE = (
    "has a private cloud name that is not 1-80 letters, digits, '-', '_' or '.' ending in something other than '.'"
)


def parse_cloud_id(value: object, *, field_name: str = "id") -> CloudId:
    """Parse a private cloud ARM id, every segment held to ARM's grammar (see the module docstring).

    Surrounding whitespace is ignored; the fixed segments may be in any case; a trailing `/`, an empty or
    encoded segment, or anything after the cloud name is refused.

    Raises
    ------
    ValidationError
        code INVALID_ID, saying which part is wrong, when `value` is not a private cloud resource id.
    """
    if not isinstance(value, str):
        raise _refuse(field_name, f"must be a private cloud ARM id like {_SHAPE}")
    if len(value) > MAX_ID_LENGTH:
        raise _refuse(
            field_name, f"is {len(value)} characters long; a private cloud ARM id has at most {MAX_ID_LENGTH}"
        )
    parts = value.strip().split("/")
    if len(parts) != 9 or parts[0] or any(parts[i].lower() != text.lower() for i, text in _LITERALS):
        raise _refuse(field_name, f"must be a private cloud ARM id like {_SHAPE}")
    subscription, group, name = parts[2], parts[4], parts[8]
    if not SUBSCRIPTION.fullmatch(subscription):
        raise _refuse(field_name, "has a subscription that is not a GUID", "subscription")
    _segment(field_name, "resourceGroup", group, what="resource group", pattern=RESOURCE_GROUP, rule=_GROUP_RULE)
    _segment(field_name, "name", name, what="private cloud name", pattern=RESOURCE_NAME, rule=_NAME_RULE)
    return CloudId(subscription.lower(), group, name)


def check_resource_name(name: object, what: str = "name") -> str:
    """`name` if it is a valid AVS child resource name (a cloud link's), else ValidationError INVALID_NAME.

    For names that come from ARM answers or our own derivation and go into a URL path.
    """
    if not isinstance(name, str) or not RESOURCE_NAME.fullmatch(name):
        raise ValidationError(
            f"{what} is not 1-80 letters, digits, '-', '_' or '.' ending in something other than '.'",
            code="INVALID_NAME",
            details={"field": what},
        )
    return name


def link_name(target: CloudId) -> str:
    """The deterministic name of the link we create towards `target`.

    Deterministic so that a retried or redelivered PUT lands on the same resource and can never make a
    second link; readable so that a person in the portal sees where it points.
    """
    digest = hashlib.sha256(target.normalized.encode()).hexdigest()[:10]
    return f"ic-{target.name[:60].lower()}-{digest}"
