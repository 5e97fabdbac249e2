"""What ARM told us about clouds and links at a moment: the plain data the rules decide on."""

from __future__ import annotations

from dataclasses import dataclass

from interconnect.armid import CloudId


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
        # The SDK does not normalise enum case on deserialisation (reference/avs-api.md §1.4).
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
    gateway: str  # the gateway's interface CIDR, e.g. 10.1.2.1/24
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
