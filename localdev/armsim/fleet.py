"""The fleet: which subscriptions, resource groups and private clouds exist, and how the simulator behaves.

A fleet is a plain document (YAML or JSON file, or a dict sent to `PUT /admin/fleet`) so that tests can
build one inline and benchmarks can generate thousands of clouds (see `generate.py`). Loading validates
everything up front and names the offending field: duplicate names, unknown or ambiguous link targets,
malformed CIDRs, links the service itself would refuse. A fleet describes a state the real service could
be in; impossible states (cross-region links, more than the link limit) are for `POST /admin/links`.
The format is documented field by field in localdev/ARMSIM.md.
"""

from __future__ import annotations

import ipaddress
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from localdev.armsim.errors import ConfigError
from localdev.armsim.faults import FaultConfig
from localdev.armsim.ids import CloudKey, cloud_id, cloud_key, is_valid_name, parse_cloud_id
from localdev.armsim.permissions import PRESETS, PermissionEntry, parse_permissions
from localdev.armsim.schema import REQUIRED, Doc

LINK_STATUSES = ("Active", "Building", "Deleting", "Failed", "Disconnected")
PROVISIONING_STATES = ("Succeeded", "Failed", "Canceled", "Cancelled", "Pending", "Building", "Deleting", "Updating")
SEGMENT_STATUSES = ("SUCCESS", "FAILURE")
CIRCUIT_CONNECTION_STATUSES = ("Connected", "Connecting", "Disconnected")
LRO_COMPLETIONS = ("terminal", "accepted")


RAW = "!raw:"  # `!raw:<anything>` is served verbatim: tests use it to feed the app malformed ARM data


def _check_network(text: str, where: str, max_prefix: int = 32, ipv6: bool = False) -> str:
    if text.startswith(RAW):
        return text[len(RAW) :]
    try:
        net = ipaddress.ip_network(text, strict=True) if ipv6 else ipaddress.IPv4Network(text, strict=True)
    except ValueError as err:
        raise ConfigError(f"{where}: not an IP{'' if ipv6 else 'v4'} network CIDR ({err})") from None
    if "/" not in text or (net.version == 4 and net.prefixlen > max_prefix):
        raise ConfigError(f"{where}: expected A.B.C.D/X with X <= {max_prefix}, got {text!r}")
    return text


def network(doc: Doc, key: str, default: Any = REQUIRED, max_prefix: int = 32, ipv6: bool = False) -> str:
    """A network in CIDR form with no host bits set (IPv4 unless `ipv6`), as ARM requires for network blocks."""
    return _check_network(doc.str(key, default), doc.at(key), max_prefix, ipv6)


def networks(doc: Doc, key: str) -> list[str]:
    return [_check_network(text, f"{doc.at(key)}[{i}]") for i, text in enumerate(doc.str_list(key))]


def interface(doc: Doc, key: str, default: Any = REQUIRED) -> str:
    """An interface address with its prefix (`10.1.2.1/24`, `fd00::1/64`), the form NSX uses for segment gateways."""
    text = doc.str(key, default)
    if text.startswith(RAW):
        return text[len(RAW) :]
    try:
        ipaddress.ip_interface(text)
    except ValueError as err:
        raise ConfigError(f"{doc.at(key)}: not an interface CIDR ({err})") from None
    if "/" not in text:
        raise ConfigError(f"{doc.at(key)}: expected A.B.C.D/X, got {text!r}")
    return text


def resource_name(doc: Doc, key: str, default: Any = REQUIRED) -> str:
    value = doc.str(key, default)
    if not is_valid_name(value):
        raise ConfigError(f"{doc.at(key)}: {value!r} does not match ^[-\\w._]+$")
    return value


@dataclass(frozen=True)
class Settings:
    """Timings and sizes of the simulated service. Zero timings make every transition immediate."""

    build_seconds: float = 5.0
    delete_seconds: float = 2.0
    retry_after: int = 1  # whole seconds: the SDK parses Retry-After on 201/202 as an int
    page_size: int = 50
    max_links_per_cloud: int = 10
    lro_completion: str = "terminal"

    @classmethod
    def from_doc(cls, doc: Doc) -> Settings:
        d = cls()
        settings = cls(
            build_seconds=doc.number("buildSeconds", d.build_seconds),
            delete_seconds=doc.number("deleteSeconds", d.delete_seconds),
            retry_after=doc.integer("retryAfter", d.retry_after),
            page_size=doc.integer("pageSize", d.page_size, minimum=1),
            max_links_per_cloud=doc.integer("maxLinksPerCloud", d.max_links_per_cloud, minimum=1),
            lro_completion=doc.choice("lroCompletion", LRO_COMPLETIONS, d.lro_completion),
        )
        doc.done()
        return settings


@dataclass
class Circuit:
    primary_subnet: str
    secondary_subnet: str
    express_route_id: str | None = None

    @classmethod
    def from_doc(cls, doc: Doc) -> Circuit:
        circuit = cls(
            primary_subnet=network(doc, "primarySubnet"),
            secondary_subnet=network(doc, "secondarySubnet"),
            express_route_id=doc.opt_str("expressRouteID"),
        )
        doc.done()
        return circuit


@dataclass
class Segment:
    """An NSX segment; only segments with a `connected_gateway` are routed (docs/avs-api.md §1.5)."""

    name: str
    gateway_address: str
    connected_gateway: str | None = None
    status: str = "SUCCESS"
    dhcp_ranges: list[str] = field(default_factory=list)

    @classmethod
    def from_doc(cls, doc: Doc, base: Segment | None = None) -> Segment:
        """Read a segment; with `base`, fields not in `doc` keep the base's values (a PATCH)."""
        segment = cls(
            name=resource_name(doc, "name", base.name if base else REQUIRED),
            gateway_address=interface(doc, "gatewayAddress", base.gateway_address if base else REQUIRED),
            connected_gateway=base.connected_gateway
            if base and not doc.has("connectedGateway")
            else doc.opt_str("connectedGateway"),
            status=doc.choice("status", SEGMENT_STATUSES, base.status if base else "SUCCESS"),
            dhcp_ranges=list(base.dhcp_ranges) if base and not doc.has("dhcpRanges") else doc.str_list("dhcpRanges"),
        )
        doc.done()
        return segment


@dataclass
class GlobalReachConnection:
    name: str
    address_prefix: str
    circuit_connection_status: str = "Connected"
    peer_express_route_circuit: str | None = None

    @classmethod
    def from_doc(cls, doc: Doc) -> GlobalReachConnection:
        connection = cls(
            name=resource_name(doc, "name"),
            address_prefix=network(doc, "addressPrefix", ipv6=True),
            circuit_connection_status=doc.choice("circuitConnectionStatus", CIRCUIT_CONNECTION_STATUSES, "Connected"),
            peer_express_route_circuit=doc.opt_str("peerExpressRouteCircuit"),
        )
        doc.done()
        return connection


@dataclass
class PrivateCloud:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    network_block: str
    provisioning_state: str = "Succeeded"
    sku: str = "AV36P"
    extended_network_blocks: list[str] = field(default_factory=list)
    circuit: Circuit | None = None
    secondary_circuit: Circuit | None = None
    segments: list[Segment] = field(default_factory=list)
    global_reach: list[GlobalReachConnection] = field(default_factory=list)
    permissions: tuple[PermissionEntry, ...] = PRESETS["write"]

    @property
    def id(self) -> str:
        return cloud_id(self.subscription_id, self.resource_group, self.name)

    @property
    def key(self) -> CloudKey:
        return cloud_key(self.subscription_id, self.resource_group, self.name)

    @property
    def region(self) -> str:
        """Location as ARM compares it: `East US` and `eastus` are the same region."""
        return self.location.replace(" ", "").lower()

    def changes(self, doc: Doc) -> dict[str, Any]:
        """The changeable fields present in `doc`, validated, as attribute values; nothing is changed yet,
        so a caller can check the rest of `doc` first and then apply all or nothing."""
        changes: dict[str, Any] = {}
        if doc.has("provisioningState"):
            changes["provisioning_state"] = doc.choice("provisioningState", PROVISIONING_STATES)
        if doc.has("networkBlock"):
            changes["network_block"] = network(doc, "networkBlock", max_prefix=22)
        if doc.has("extendedNetworkBlocks"):
            changes["extended_network_blocks"] = networks(doc, "extendedNetworkBlocks")
        if doc.has("permissions"):
            changes["permissions"] = parse_permissions(doc.raw("permissions"), doc.at("permissions"))
        if doc.has("segments"):
            changes["segments"] = _unique_by_name(
                [Segment.from_doc(d) for d in doc.docs("segments")], doc.at("segments")
            )
        if doc.has("globalReach"):
            changes["global_reach"] = _unique_by_name(
                [GlobalReachConnection.from_doc(d) for d in doc.docs("globalReach")], doc.at("globalReach")
            )
        return changes

    def apply(self, changes: dict[str, Any]) -> None:
        for name, value in changes.items():
            setattr(self, name, value)


def _new_segment(doc: Doc, key: str, seen: set[str], what: str) -> str:
    """`doc[key]` as one segment of an ARM id, refused if it holds `/` or repeats one in `seen` (any case)."""
    value = doc.str(key)
    if "/" in value or value.lower() in seen:
        raise ConfigError(f"{doc.at(key)}: invalid or duplicate {what} {value!r}")
    seen.add(value.lower())
    return value


def _unique_by_name(items: list[Any], where: str) -> list[Any]:
    dupes = [n for n, c in Counter(i.name.lower() for i in items).items() if c > 1]
    if dupes:
        raise ConfigError(f"{where}: duplicate name(s) {dupes}")
    return items


@dataclass(frozen=True)
class LinkSpec:
    """A cloud link that exists when the fleet loads; its status stays as written (nothing animates it)."""

    source: CloudKey
    target: CloudKey
    name: str
    linked_cloud: str
    status: str


class CloudIndex:
    """Resolves the cloud references used in fleets, faults and admin calls: a full id or a unique name."""

    def __init__(self, clouds: Mapping[CloudKey, PrivateCloud]) -> None:
        self._clouds = clouds
        self._by_name: dict[str, list[PrivateCloud]] = {}
        for cloud in clouds.values():
            self._by_name.setdefault(cloud.name.lower(), []).append(cloud)

    def resolve(self, ref: str, where: str) -> PrivateCloud:
        if "/" in ref:
            key = parse_cloud_id(ref)
            if key is None:
                raise ConfigError(f"{where}: {ref!r} is not a Microsoft.AVS/privateClouds resource id")
            if key not in self._clouds:
                raise ConfigError(f"{where}: no private cloud {ref!r} in the fleet")
            return self._clouds[key]
        found = self._by_name.get(ref.lower(), [])
        if len(found) != 1:
            problem = "no private cloud named" if not found else "ambiguous (use the full id):"
            raise ConfigError(f"{where}: {problem} {ref!r}")
        return found[0]


@dataclass
class Fleet:
    settings: Settings = field(default_factory=Settings)
    subscriptions: list[str] = field(default_factory=list)
    resource_groups: list[tuple[str, str]] = field(default_factory=list)
    clouds: list[PrivateCloud] = field(default_factory=list)
    links: list[LinkSpec] = field(default_factory=list)
    faults: FaultConfig = field(default_factory=FaultConfig)

    @classmethod
    def load(cls, path: str | Path) -> Fleet:
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        try:
            doc = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: cannot parse: {err}") from None
        try:
            return cls.from_dict(doc or {})
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None

    @classmethod
    def from_dict(cls, data: object) -> Fleet:
        doc = Doc(data)
        doc.raw("description", None)  # free text for the reader of the file
        fleet = cls(
            settings=Settings.from_doc(Doc(doc.raw("settings", {}) or {}, "settings")),
            faults=FaultConfig.from_dict(doc.raw("faults", {}) or {}, "faults"),
        )
        pending_links: list[tuple[PrivateCloud, Doc]] = []
        clouds: dict[CloudKey, PrivateCloud] = {}
        seen_subs: set[str] = set()
        for sub_doc in doc.docs("subscriptions"):
            sub = _new_segment(sub_doc, "id", seen_subs, "subscription id")
            fleet.subscriptions.append(sub)
            seen_rgs: set[str] = set()
            for rg_doc in sub_doc.docs("resourceGroups"):
                rg = _new_segment(rg_doc, "name", seen_rgs, "resource group")
                fleet.resource_groups.append((sub, rg))
                for cloud_doc in rg_doc.docs("privateClouds"):
                    cloud = _cloud_from_doc(cloud_doc, sub, rg)
                    if cloud.key in clouds:
                        raise ConfigError(f"{cloud_doc.at('name')}: duplicate private cloud {cloud.name!r}")
                    clouds[cloud.key] = cloud
                    pending_links.extend((cloud, d) for d in cloud_doc.docs("links"))
                    cloud_doc.done()
                rg_doc.done()
            sub_doc.done()
        doc.done()
        fleet.clouds = list(clouds.values())
        fleet.links = _resolve_links(pending_links, CloudIndex(clouds), fleet.settings)
        return fleet


def _cloud_from_doc(doc: Doc, subscription_id: str, resource_group: str) -> PrivateCloud:
    cloud = PrivateCloud(
        subscription_id=subscription_id,
        resource_group=resource_group,
        name=resource_name(doc, "name"),
        location=doc.str("location"),
        network_block=network(doc, "networkBlock", max_prefix=22),
        sku=doc.str("sku", PrivateCloud.sku),
        circuit=Circuit.from_doc(Doc(doc.raw("circuit"), doc.at("circuit"))) if doc.has("circuit") else None,
        secondary_circuit=Circuit.from_doc(Doc(doc.raw("secondaryCircuit"), doc.at("secondaryCircuit")))
        if doc.has("secondaryCircuit")
        else None,
    )
    cloud.apply(cloud.changes(doc))
    return cloud


def _resolve_links(pending: list[tuple[PrivateCloud, Doc]], index: CloudIndex, settings: Settings) -> list[LinkSpec]:
    links: list[LinkSpec] = []
    names: set[tuple[CloudKey, str]] = set()
    counts: Counter[CloudKey] = Counter()
    for source, doc in pending:
        ref = doc.str("target")
        target = index.resolve(ref, doc.at("target"))
        name = resource_name(doc, "name", target.name)
        status = doc.choice("status", LINK_STATUSES, "Active")
        # `linkedCloud: "!raw:<text>"` serves <text> as the link's linkedCloud: a malformed answer for the app.
        raw_linked = doc.opt_str("linkedCloud")
        if raw_linked is not None and not raw_linked.startswith(RAW):
            raise ConfigError(f"{doc.at('linkedCloud')}: only `!raw:<text>` is accepted here (the target sets it)")
        doc.done()
        if target.key == source.key:
            raise ConfigError(f"{doc.where}: a private cloud cannot link to itself")
        if target.region != source.region:
            raise ConfigError(
                f"{doc.where}: {source.name} ({source.location}) and {target.name} "
                f"({target.location}) are in different regions, which the service refuses"
            )
        if (source.key, name.lower()) in names:
            raise ConfigError(f"{doc.at('name')}: {source.name} already has a link named {name!r}")
        names.add((source.key, name.lower()))
        counts.update([source.key, target.key])
        links.append(
            LinkSpec(
                source=source.key,
                target=target.key,
                name=name,
                status=status,
                linked_cloud=raw_linked[len(RAW) :] if raw_linked is not None else ref if "/" in ref else target.id,
            )
        )
    over = [key for key, n in counts.items() if n > settings.max_links_per_cloud]
    if over:
        raise ConfigError(
            f"links: private cloud(s) {['/'.join(k) for k in over]} exceed "
            f"maxLinksPerCloud={settings.max_links_per_cloud} (incoming + outgoing)"
        )
    return links
