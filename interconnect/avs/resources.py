"""What ARM told us about clouds and links at a moment: the plain data the rules decide on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interconnect.avs.ids import CloudId


class LinkStatus:
    """`CloudLinkStatus` values. ARM may send other spellings; compare through `normalize`."""

    ACTIVE = "Active"
    BUILDING = "Building"
    DELETING = "Deleting"
    FAILED = "Failed"
    DISCONNECTED = "Disconnected"
    _KNOWN = {s.lower(): s for s in (ACTIVE, BUILDING, DELETING, FAILED, DISCONNECTED)}

    @classmethod
    def normalize(cls, value: str | None) -> str:
        # The SDK does not normalise enum case on deserialisation (docs/avs-api.md §1.4).
        return cls._KNOWN.get((value or "").lower(), value or "Unknown")


@dataclass(frozen=True)
class Link:
    """A `cloudLinks` resource: it lives on `source` and points at `target`."""

    source: CloudId
    name: str
    target: CloudId
    status: str

    def joins(self, a: CloudId, b: CloudId) -> bool:
        return {self.source, self.target} == {a, b}


@dataclass(frozen=True)
class Segment:
    """An NSX segment: routed only when it has a connected gateway."""

    name: str
    gateway: str  # the gateway's interface CIDR, e.g. 10.1.2.1/24; "" when ARM gave none
    connected_gateway: str = ""


@dataclass(frozen=True)
class PermissionEntry:
    """One entry of the Microsoft.Authorization permissions answer for the app's identity."""

    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cloud:
    """A private cloud as read from ARM."""

    id: CloudId
    location: str
    provisioning_state: str
    network_block: str = ""
    extended_network_blocks: tuple[str, ...] = ()
    circuit_subnets: tuple[str, ...] = ()
    external_links: tuple[CloudId, ...] = ()  # clouds that hold a link to this one

    @property
    def region(self) -> str:
        return self.location.replace(" ", "").lower()


# The reads the pre-flight makes, named as the call log and ARM's operations name them, and what each reads.
READS = {
    "privateClouds.get": "the private cloud",
    "cloudLinks.list": "the links",
    "segments.list": "the NSX segments",
    "globalReach.list": "the Global Reach connections",
    "permissions.list": "the app's permissions",
}


# The ARM code a read is recorded under when ARM answered it with something its API does not describe.
MALFORMED_ANSWER = "MALFORMED_ANSWER"


@dataclass(frozen=True)
class Refusal:
    """A read ARM refused for good (403, 404 or another 4xx that a retry would not change), or answered with
    something malformed (`arm_code` MALFORMED_ANSWER: what it answered cannot be trusted, so it is as unread).

    Kept as a fact for the rules to decide on, because "cannot be read" is an answer: raising it through the
    worker would only make Service Bus redeliver a message that can never succeed.
    """

    cloud: CloudId
    read: str  # a key of READS
    status: int  # ARM's HTTP status; 0 when unknown
    arm_code: str  # ARM's error code, e.g. AuthorizationFailed
    message: str = ""  # what ARM said (or what was malformed), already cut to size by the adapter

    @property
    def malformed(self) -> bool:
        return self.arm_code == MALFORMED_ANSWER

    @property
    def what(self) -> str:
        return f"{READS.get(self.read, self.read)} of {self.cloud.short}"

    @property
    def answer(self) -> str:
        if self.malformed:
            return self.message or f"ARM's answer to {self.read} is malformed"
        return f"ARM answered {self.status or 'an error'} {self.arm_code} to {self.read}"

    def details(self) -> dict[str, Any]:
        return {
            "cloud": str(self.cloud),
            "read": self.read,
            "status": self.status,
            "armCode": self.arm_code,
            "armMessage": self.message,
        }
