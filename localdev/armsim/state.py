"""The simulated service's state and rules: private clouds, cloud links, long-running operations.

One lock guards everything, because a cloud link touches two clouds (the source holds the `cloudLinks`
child, the target lists the source in `externalCloudLinks`) and the link limit counts both directions.
Time-driven transitions (Building -> Active, Deleting -> gone) are applied lazily at the start of every
call against a monotonic clock, so there is no background thread and no wall-clock jump can reorder them.
Refusals are raised as `ArmError` with the status and code a client of ARM would see.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from localdev.armsim import render
from localdev.armsim.errors import ArmError, ConfigError
from localdev.armsim.fleet import (
    LINK_STATUSES,
    CloudIndex,
    Fleet,
    PrivateCloud,
    Segment,
    Settings,
    resource_name,
)
from localdev.armsim.ids import CloudKey, cloud_key, is_valid_name, parse_cloud_id
from localdev.armsim.permissions import (
    DELETE_LINKS,
    READ_CLOUD,
    READ_GLOBAL_REACH,
    READ_LINKS,
    READ_SEGMENTS,
    WRITE_LINKS,
    allows,
)
from localdev.armsim.schema import Doc

# Who the simulated ARM believes is calling; it only appears in AuthorizationFailed messages.
CALLER = "armsim-caller"

# (link name, (source id, source name), (target id, target name)) -> status the new link settles in.
OutcomeChooser = Callable[[str, tuple[str, str], tuple[str, str]], str]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Operation:
    """An ARM async operation, polled through Azure-AsyncOperation or Location."""

    id: str
    subscription_id: str
    location: str
    is_delete: bool
    status: str = "InProgress"
    start_time: str = ""
    end_time: str | None = None
    error: tuple[str, str] | None = None

    def finish(self, status: str, error: tuple[str, str] | None = None) -> None:
        if self.status == "InProgress":
            self.status, self.error, self.end_time = status, error, _now_iso()


@dataclass
class Link:
    source: PrivateCloud
    target: PrivateCloud
    name: str
    linked_cloud: str  # as the creator wrote it, like ARM stores it
    status: str
    settles_at: float | None = None  # monotonic time of the next automatic transition; None: stays put
    outcome: str = "Active"  # the status a Building link settles in
    operation: Operation | None = None

    @property
    def id(self) -> str:
        return f"{self.source.id}/cloudLinks/{self.name}"


class World:
    def __init__(self, fleet: Fleet, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.settings: Settings = fleet.settings
        self._subscriptions = {s.lower(): s for s in fleet.subscriptions}
        self._resource_groups = {(s.lower(), rg.lower()): rg for s, rg in fleet.resource_groups}
        self._clouds: dict[CloudKey, PrivateCloud] = {c.key: c for c in fleet.clouds}
        self._index = CloudIndex(self._clouds)
        self._outgoing: dict[CloudKey, dict[str, Link]] = {key: {} for key in self._clouds}
        self._incoming: dict[CloudKey, dict[str, Link]] = {key: {} for key in self._clouds}
        self._pending: dict[str, Link] = {}
        self._operations: dict[str, Operation] = {}
        for spec in fleet.links:
            self._attach(
                Link(
                    source=self._clouds[spec.source],
                    target=self._clouds[spec.target],
                    name=spec.name,
                    linked_cloud=spec.linked_cloud,
                    status=spec.status,
                )
            )

    # ---- ARM reads ---------------------------------------------------------------------------------

    def get_cloud(self, sub: str, rg: str, name: str) -> dict[str, Any]:
        with self._lock:
            self._advance()
            return self._render_cloud(self._cloud(sub, rg, name, READ_CLOUD))

    def list_clouds(self, sub: str, rg: str | None) -> list[dict[str, Any]]:
        with self._lock:
            self._advance()
            self._subscription(sub)
            if rg is not None:
                self._resource_group(sub, rg)
            return [
                self._render_cloud(c)
                for c in self._clouds.values()
                if c.subscription_id.lower() == sub.lower()
                and (rg is None or c.resource_group.lower() == rg.lower())
                and allows(c.permissions, READ_CLOUD)
            ]

    def list_links(self, sub: str, rg: str, cloud: str) -> list[dict[str, Any]]:
        with self._lock:
            self._advance()
            source = self._cloud(sub, rg, cloud, READ_LINKS, parent=True)
            return [render.link(link) for link in self._outgoing[source.key].values()]

    def get_link(self, sub: str, rg: str, cloud: str, name: str) -> dict[str, Any]:
        with self._lock:
            self._advance()
            source = self._cloud(sub, rg, cloud, READ_LINKS, parent=True)
            link = self._outgoing[source.key].get(name.lower())
            if link is None:
                raise ArmError(
                    404,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.AVS/privateClouds/{source.name}"
                    f"/cloudLinks/{name}' under resource group '{rg}' was not found.",
                )
            return render.link(link)

    def list_segments(self, sub: str, rg: str, cloud: str) -> list[dict[str, Any]]:
        with self._lock:
            c = self._cloud(sub, rg, cloud, READ_SEGMENTS, parent=True)
            return [render.segment(c, s) for s in c.segments]

    def list_global_reach(self, sub: str, rg: str, cloud: str) -> list[dict[str, Any]]:
        with self._lock:
            c = self._cloud(sub, rg, cloud, READ_GLOBAL_REACH, parent=True)
            return [render.global_reach(c, g) for g in c.global_reach]

    def permissions(self, sub: str, rg: str, cloud: str) -> list[dict[str, Any]]:
        # Anyone may ask what they may do, so no action is checked here.
        with self._lock:
            return [entry.as_arm() for entry in self._cloud(sub, rg, cloud, None).permissions]

    def operation(self, sub: str, operation_id: str) -> Operation:
        """A copy, so the caller can render it without the lock."""
        with self._lock:
            self._advance()
            self._subscription(sub)
            op = self._operations.get(operation_id.lower())
            if op is None or op.subscription_id.lower() != sub.lower():
                raise ArmError(404, "OperationNotFound", f"Operation '{operation_id}' was not found.")
            return replace(op)

    # ---- ARM writes --------------------------------------------------------------------------------

    def put_link(
        self, sub: str, rg: str, cloud: str, name: str, body: bytes, choose_outcome: OutcomeChooser
    ) -> tuple[bool, dict[str, Any], Operation | None]:
        """Create a link: (True, body, its operation). Or find the identical one: (False, body, the create
        operation if that is still running, so a retried PUT can follow it like the first one)."""
        with self._lock:
            self._advance()
            source = self._cloud(sub, rg, cloud, WRITE_LINKS, parent=True)
            _check_link_name(name)
            linked_cloud, target_key = _linked_cloud(body)
            existing = self._outgoing[source.key].get(name.lower())
            if existing is not None:
                if existing.target.key != target_key:
                    raise ArmError(
                        409,
                        "CloudLinkConflict",
                        f"Cloud link '{name}' already exists on '{source.name}' and links to {existing.target.id}.",
                    )
                if existing.status == "Deleting":
                    raise ArmError(
                        409,
                        "AnotherOperationInProgress",
                        f"Cloud link '{name}' is being deleted; retry once it is gone.",
                    )
                running = existing.operation
                if running is None or running.is_delete or running.status != "InProgress":
                    return False, render.link(existing), None
                return False, render.link(existing), replace(running)
            target = self._clouds.get(target_key)
            if target is None:
                raise ArmError(400, "LinkedCloudNotFound", f"The linked private cloud '{linked_cloud}' was not found.")
            self._check_new_link(source, target)
            op = self._new_operation(source, is_delete=False)
            link = Link(
                source=source,
                target=target,
                name=name,
                linked_cloud=linked_cloud,
                status="Building",
                operation=op,
                outcome=choose_outcome(name, (source.id, source.name), (target.id, target.name)),
            )
            if link.outcome != "Building":  # "Building" is the stuck-link fault: nothing ever settles it
                link.settles_at = self._clock() + self.settings.build_seconds
            self._attach(link)
            return True, render.link(link), replace(op)

    def delete_link(self, sub: str, rg: str, cloud: str, name: str) -> Operation | None:
        """The operation deleting the link (a new one, or the one already running); None if absent."""
        with self._lock:
            self._advance()
            source = self._cloud(sub, rg, cloud, DELETE_LINKS, parent=True)
            _check_link_name(name)
            link = self._outgoing[source.key].get(name.lower())
            if link is None:
                return None
            if link.status == "Deleting" and link.settles_at is not None and link.operation is not None:
                return replace(link.operation)
            if link.operation is not None:
                link.operation.finish("Canceled", ("OperationCanceled", "The cloud link is being deleted."))
            link.status = "Deleting"
            link.operation = self._new_operation(source, is_delete=True)
            link.settles_at = self._clock() + self.settings.delete_seconds
            self._pending[link.id.lower()] = link
            return replace(link.operation)

    # ---- admin -------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._advance()
            return {
                "clouds": [self._render_cloud(c) for c in self._clouds.values()],
                "links": [
                    {**render.link(link), "source": link.source.id}
                    for links in self._outgoing.values()
                    for link in links.values()
                ],
            }

    def counts(self) -> dict[str, int]:
        with self._lock:
            self._advance()
            return {
                "subscriptions": len(self._subscriptions),
                "clouds": len(self._clouds),
                "links": sum(map(len, self._outgoing.values())),
                "operations": len(self._operations),
            }

    def add_link(self, doc: Doc) -> dict[str, Any]:
        """A link made out of band (the portal, another tool), exempt from the service's rules."""
        with self._lock:
            self._advance()
            source = self._index.resolve(doc.str("source"), doc.at("source"))
            target = self._index.resolve(doc.str("target"), doc.at("target"))
            name = resource_name(doc, "name", target.name)
            status = doc.choice("status", LINK_STATUSES, "Active")
            doc.done()
            if target is source or name.lower() in self._outgoing[source.key]:
                raise ConfigError(f"{source.name} cannot get link {name!r} to {target.name}: self-link or name taken")
            link = Link(source=source, target=target, name=name, linked_cloud=target.id, status=status)
            self._attach(link)
            return render.link(link)

    def update_link(self, doc: Doc) -> dict[str, Any]:
        """Set a link's status as the service would report it; any running create operation ends with it."""
        with self._lock:
            self._advance()
            link = self._admin_link(doc)
            status = doc.choice("status", LINK_STATUSES)
            doc.done()
            self._pending.pop(link.id.lower(), None)
            link.settles_at = None
            self._set_status(link, status)
            return render.link(link)

    def remove_link(self, doc: Doc) -> None:
        with self._lock:
            self._advance()
            link = self._admin_link(doc)
            doc.done()
            self._detach(link)

    def add_segment(self, doc: Doc) -> dict[str, Any]:
        with self._lock:
            cloud = self._index.resolve(doc.str("cloud"), doc.at("cloud"))
            segment = Segment.from_doc(doc)
            if any(s.name.lower() == segment.name.lower() for s in cloud.segments):
                raise ConfigError(f"{cloud.name} already has segment {segment.name!r}")
            cloud.segments = [*cloud.segments, segment]
            return render.segment(cloud, segment)

    def update_segment(self, doc: Doc) -> dict[str, Any]:
        with self._lock:
            cloud = self._index.resolve(doc.str("cloud"), doc.at("cloud"))
            name = doc.str("name")
            at = next((i for i, s in enumerate(cloud.segments) if s.name.lower() == name.lower()), None)
            if at is None:
                raise ConfigError(f"{cloud.name} has no segment {name!r}")
            segment = Segment.from_doc(doc, base=cloud.segments[at])
            cloud.segments = [*cloud.segments[:at], segment, *cloud.segments[at + 1 :]]
            return render.segment(cloud, segment)

    def update_cloud(self, doc: Doc) -> dict[str, Any]:
        with self._lock:
            self._advance()
            cloud = self._index.resolve(doc.str("cloud"), doc.at("cloud"))
            changes = cloud.changes(doc)
            doc.done()
            cloud.apply(changes)
            return self._render_cloud(cloud)

    # ---- internals (lock held) ---------------------------------------------------------------------

    def _subscription(self, sub: str) -> None:
        if sub.lower() not in self._subscriptions:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{sub}' could not be found.")

    def _resource_group(self, sub: str, rg: str) -> None:
        if (sub.lower(), rg.lower()) not in self._resource_groups:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")

    def _cloud(self, sub: str, rg: str, name: str, action: str | None, parent: bool = False) -> PrivateCloud:
        """The cloud a call addresses, after ARM's checks in ARM's order: subscription, group, resource, access."""
        self._subscription(sub)
        self._resource_group(sub, rg)
        cloud = self._clouds.get(cloud_key(sub, rg, name))
        if cloud is None:
            if parent:
                raise ArmError(
                    404,
                    "ParentResourceNotFound",
                    f"Can not perform requested operation on nested resource. Parent resource '{name}' not found.",
                )
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.AVS/privateClouds/{name}' under resource group '{rg}' was not found.",
            )
        if action is not None:
            _authorize(cloud, action, "AuthorizationFailed")
        return cloud

    def _check_new_link(self, source: PrivateCloud, target: PrivateCloud) -> None:
        """The service's rules for a new link, in the order a caller most needs to hear about them."""
        if target is source:
            raise ArmError(400, "CloudLinkToSelfNotSupported", "A private cloud cannot be linked to itself.")
        _authorize(target, WRITE_LINKS, "LinkedAuthorizationFailed")
        if target.region != source.region:
            raise ArmError(
                400,
                "CloudLinkCrossRegionNotSupported",
                f"Private clouds can only be linked within a region: '{source.name}' is in "
                f"'{source.location}', '{target.name}' is in '{target.location}'.",
            )
        for cloud in (source, target):
            if cloud.provisioning_state != "Succeeded":
                raise ArmError(
                    409,
                    "PrivateCloudNotSucceeded",
                    f"Private cloud '{cloud.name}' is in provisioning "
                    f"state '{cloud.provisioning_state}'; it must be 'Succeeded'.",
                )
        for a, b in ((source, target), (target, source)):
            existing = next((lk for lk in self._outgoing[a.key].values() if lk.target is b), None)
            if existing is not None:
                raise ArmError(
                    409,
                    "CloudLinkAlreadyExists",
                    f"'{source.name}' and '{target.name}' are already linked by {existing.id}.",
                )
        for cloud in (source, target):
            if self._link_count(cloud) >= self.settings.max_links_per_cloud:
                raise ArmError(
                    400,
                    "CloudLinkLimitExceeded",
                    f"Private cloud '{cloud.name}' already has "
                    f"{self._link_count(cloud)} cloud links (incoming and outgoing); the limit "
                    f"is {self.settings.max_links_per_cloud}.",
                )

    def _link_count(self, cloud: PrivateCloud) -> int:
        return len(self._outgoing[cloud.key]) + len(self._incoming[cloud.key])

    def _new_operation(self, cloud: PrivateCloud, is_delete: bool) -> Operation:
        op = Operation(
            id=str(uuid.uuid4()),
            subscription_id=cloud.subscription_id,
            location=cloud.region,
            is_delete=is_delete,
            start_time=_now_iso(),
        )
        if self.settings.lro_completion == "accepted":
            op.finish("Succeeded")
        self._operations[op.id] = op
        return op

    def _attach(self, link: Link) -> None:
        self._outgoing[link.source.key][link.name.lower()] = link
        self._incoming[link.target.key][link.id.lower()] = link
        if link.settles_at is not None:
            self._pending[link.id.lower()] = link

    def _detach(self, link: Link) -> None:
        del self._outgoing[link.source.key][link.name.lower()]
        del self._incoming[link.target.key][link.id.lower()]
        self._pending.pop(link.id.lower(), None)
        if link.operation is not None:
            link.operation.finish(
                "Succeeded" if link.operation.is_delete else "Canceled",
                None if link.operation.is_delete else ("OperationCanceled", "The link is gone."),
            )

    def _set_status(self, link: Link, status: str) -> None:
        link.status = status
        if link.operation is not None and not link.operation.is_delete:
            if status == "Failed":
                link.operation.finish(
                    "Failed", ("CloudLinkProvisioningFailed", f"Cloud link '{link.name}' could not be established.")
                )
            elif status in ("Active", "Disconnected"):
                link.operation.finish("Succeeded")

    def _advance(self) -> None:
        now = self._clock()
        for link in [lk for lk in self._pending.values() if lk.settles_at is not None and lk.settles_at <= now]:
            self._pending.pop(link.id.lower())
            link.settles_at = None
            if link.status == "Deleting":
                self._detach(link)
            else:
                self._set_status(link, link.outcome)

    def _render_cloud(self, cloud: PrivateCloud) -> dict[str, Any]:
        return render.cloud(cloud, [link.source.id for link in self._incoming[cloud.key].values()])

    def _admin_link(self, doc: Doc) -> Link:
        source = self._index.resolve(doc.str("source"), doc.at("source"))
        link = self._outgoing[source.key].get(doc.str("name").lower())
        if link is None:
            raise ConfigError(f"{source.name} has no link named {doc.str('name')!r}")
        return link


def _authorize(cloud: PrivateCloud, action: str, code: str) -> None:
    if not allows(cloud.permissions, action):
        raise ArmError(
            403,
            code,
            f"The client '{CALLER}' does not have authorization to perform action "
            f"'{action}' over scope '{cloud.id}' or the scope is invalid.",
        )


def _check_link_name(name: str) -> None:
    if not is_valid_name(name):
        raise ArmError(
            400,
            "InvalidResourceName",
            f"'{name}' is not a valid cloud link name; it must match "
            r"^[-\w._]+$.",
        )


def _linked_cloud(body: bytes) -> tuple[str, CloudKey]:
    """`properties.linkedCloud` of a PUT body, as written and as a lookup key."""
    try:
        doc = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ArmError(400, "InvalidRequestContent", "The request content is not valid JSON.") from None
    properties = doc.get("properties") if isinstance(doc, dict) else None
    linked = properties.get("linkedCloud") if isinstance(properties, dict) else None
    if not isinstance(linked, str) or not linked:
        raise ArmError(400, "InvalidRequestContent", "properties.linkedCloud is required.")
    key = parse_cloud_id(linked)
    if key is None:
        raise ArmError(
            400,
            "InvalidRequestContent",
            f"properties.linkedCloud '{linked}' is not a Microsoft.AVS/privateClouds resource id.",
        )
    return linked, key
