"""The port to Microsoft.AVS: what the app reads and starts in ARM. Adapters implement it; tests use the fake."""

from __future__ import annotations

from typing import Protocol

from interconnect.avs.ids import CloudId
from interconnect.avs.resources import Cloud, Link, PermissionEntry, Segment


class AvsGateway(Protocol):
    """Microsoft.AVS as the app needs it. Raises DependencyError/ThrottledError (retryable) or ArmError."""

    def get_cloud(self, cloud: CloudId) -> Cloud | None: ...

    def list_clouds(self, subscription: str) -> list[Cloud]:
        """Every private cloud of a subscription, in one paged read."""

    def list_links(self, cloud: CloudId) -> list[Link]: ...

    def get_link(self, cloud: CloudId, name: str) -> Link | None: ...

    def list_segments(self, cloud: CloudId) -> list[Segment]: ...

    def list_global_reach(self, cloud: CloudId) -> list[str]:
        """The Global Reach connections' address prefixes."""

    def permissions(self, cloud: CloudId) -> list[PermissionEntry]:
        """What the app's own identity may do on `cloud` (Microsoft.Authorization permissions)."""

    def create_link(self, cloud: CloudId, name: str, target: CloudId) -> float | None:
        """Start creating; returns the server's Retry-After in seconds when it gave one."""

    def delete_link(self, cloud: CloudId, name: str) -> float | None:
        """Start deleting; returns the server's Retry-After in seconds when it gave one."""

    def ping(self) -> None: ...
