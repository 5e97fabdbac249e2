"""Microsoft.AVS through azure-mgmt-avs: read clouds and links, start link creates and deletes.

One `AVSClient` per subscription, because the SDK fixes the subscription per client and links may join
clouds in different subscriptions. LROs are started with `polling=False`: the worker follows them with
scheduled check messages instead of blocking an invocation for minutes.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.core.rest import HttpRequest
from azure.mgmt.avs import AVSClient

from interconnect.armid import CloudId, check_resource_name, parse_cloud_id
from interconnect.errors import ArmError, DependencyError, ThrottledError, ValidationError
from interconnect.facts import Cloud, Link, PermissionEntry, Segment

PUBLIC_ARM = "https://management.azure.com"
# 409s that go away by themselves. Others (CloudLinkConflict, CloudLinkAlreadyExists) never will.
TRANSIENT_CONFLICTS = frozenset({"anotheroperationinprogress", "conflict", "privatecloudnotsucceeded"})
_ARM_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,79}")
MAX_ARM_MESSAGE = 300


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _arm_code(raw: object, status: int) -> str:
    """ARM's error code as it may travel on (into a reason code, a stored row, a log line): ARM's own grammar of
    letters, digits and a few separators, else just the status."""
    return raw if isinstance(raw, str) and _ARM_CODE.fullmatch(raw) else f"HTTP_{status}"


def _arm_message(raw: object) -> str:
    """ARM's error message on one printable line, cut to a size a person reads (it is stored with the request)."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(raw)).split())
    return text if len(text) <= MAX_ARM_MESSAGE else text[:MAX_ARM_MESSAGE - 1] + "…"


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Map azure-core errors to ours: 429 throttled, 409/5xx/network retryable, other 4xx permanent."""
    try:
        yield
    except HttpResponseError as exc:
        status = exc.status_code or 0
        retry_after = _retry_after(exc.response.headers if exc.response is not None else None)
        code = _arm_code(getattr(exc.error, "code", None), status)
        message = _arm_message(getattr(exc.error, "message", None) or exc.reason or str(exc))
        details = {"status": status, "armCode": code}
        if status == 429:
            raise ThrottledError(f"{what}: ARM throttled the call", retry_after=retry_after,
                                 details=details) from exc
        if (status == 409 and code.lower() in TRANSIENT_CONFLICTS) or status >= 500 or status == 408:
            raise DependencyError(f"{what}: ARM answered {status} {code}", retry_after=retry_after,
                                  details=details) from exc
        raise ArmError(f"{what}: {message}", code=f"ARM_{code}" if not code.startswith("ARM") else code,
                       details=details) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise DependencyError(f"{what}: ARM unreachable ({type(exc).__name__})") from exc
    except AzureError as exc:
        raise DependencyError(f"{what}: {exc}") from exc


def _cloud_of(resource_id: str) -> CloudId | None:
    """`externalCloudLinks` holds cloud ids in the examples but "cloud link IDs" per the docstring: take either."""
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    if "cloudlinks" in lowered:
        resource_id = "/".join(parts[: lowered.index("cloudlinks")])
    try:
        return parse_cloud_id(resource_id)
    except ValidationError:
        return None


def _url_safe(link_name: str) -> None:
    """Refuse a link name that would not stay one URL segment (`..` would address the cloud itself)."""
    try:
        check_resource_name(link_name, "link name")
    except ValidationError as exc:
        raise ArmError(f"refusing to address link {link_name[:80]!r}: {exc.message}", code="INVALID_NAME",
                       details={"field": "linkName"}) from None


def _text(value: Any) -> str:
    """SDK enums are str subclasses whose str() is "Enum.MEMBER"; unknown values arrive as plain str."""
    return str(getattr(value, "value", value) or "")


def to_cloud(raw: Any) -> Cloud:
    props = raw.properties
    circuits = [c for c in (getattr(props, "circuit", None), getattr(props, "secondary_circuit", None)) if c]
    # A circuit ARM lists routes both its /30s: a missing one is kept as "" for the rules to refuse, not dropped.
    subnets = tuple(s or "" for c in circuits for s in (c.primary_subnet, c.secondary_subnet))
    external = tuple(c for c in (_cloud_of(i) for i in (props.external_cloud_links or [])) if c is not None)
    return Cloud(id=parse_cloud_id(raw.id), location=raw.location,
                 provisioning_state=_text(props.provisioning_state), network_block=props.network_block or "",
                 extended_network_blocks=tuple(b or "" for b in props.extended_network_blocks or ()),
                 circuit_subnets=subnets,
                 external_links=external)


class AvsSdkGateway:
    """`AvsGateway` on azure-mgmt-avs."""

    def __init__(self, credential: TokenCredential | None, *, base_url: str = PUBLIC_ARM,
                 retry_total: int = 3, **client_kwargs: Any) -> None:
        self._credential = credential
        self._base_url = base_url.rstrip("/")
        # One pacing policy for every client: the budget is per subscription, whichever client spends it.
        self._pacing = RemainingBudgetPacing()
        self._kwargs: dict[str, Any] = {"retry_total": retry_total, "per_call_policies": [self._pacing],
                                        **client_kwargs}
        if is_local(self._base_url):
            # The local ARM simulator speaks plain HTTP, where the bearer policy refuses to send tokens.
            self._kwargs["authentication_policy"] = SansIOHTTPPolicy()
            self._credential = credential or _NoToken()
        elif self._base_url != PUBLIC_ARM:
            # A sovereign cloud's ARM wants a token for its own audience, not management.azure.com's.
            self._kwargs.setdefault("credential_scopes", [f"{self._base_url}/.default"])
        self._clients: dict[str, AVSClient] = {}
        self._lock = threading.Lock()

    def _client(self, subscription: str) -> AVSClient:
        with self._lock:
            if subscription not in self._clients:
                self._clients[subscription] = AVSClient(self._credential, subscription,  # type: ignore[arg-type]
                                                        base_url=self._base_url, **self._kwargs)
            return self._clients[subscription]

    def get_cloud(self, cloud: CloudId) -> Cloud | None:
        with translated(f"reading private cloud {cloud.short}"):
            try:
                raw = self._client(cloud.subscription).private_clouds.get(cloud.resource_group, cloud.name)
            except ResourceNotFoundError:
                return None
            return to_cloud(raw)

    def list_clouds(self, subscription: str) -> list[Cloud]:
        with translated(f"listing private clouds of subscription {subscription}"):
            return [to_cloud(raw) for raw in self._client(subscription).private_clouds.list_in_subscription()]

    def list_links(self, cloud: CloudId) -> list[Link]:
        with translated(f"listing links of {cloud.short}"):
            client = self._client(cloud.subscription)
            return [self._link(cloud, raw) for raw in client.cloud_links.list(cloud.resource_group, cloud.name)]

    def get_link(self, cloud: CloudId, name: str) -> Link | None:
        _url_safe(name)
        with translated(f"reading link {name} of {cloud.short}"):
            try:
                raw = self._client(cloud.subscription).cloud_links.get(cloud.resource_group, cloud.name, name)
            except ResourceNotFoundError:
                return None
            return self._link(cloud, raw)

    def list_segments(self, cloud: CloudId) -> list[Segment]:
        with translated(f"listing segments of {cloud.short}"):
            client = self._client(cloud.subscription)
            # Every segment is passed on, with "" for what ARM left out: a connected segment without a gateway
            # address must reach the rules (INVALID_PREFIX), not vanish here (interconnect/routed.py).
            return [Segment(raw.name or "", getattr(getattr(raw.properties, "subnet", None), "gateway_address", None)
                            or "", getattr(raw.properties, "connected_gateway", None) or "")
                    for raw in client.workload_networks.list_segments(cloud.resource_group, cloud.name)]

    def list_global_reach(self, cloud: CloudId) -> list[str]:
        with translated(f"listing Global Reach connections of {cloud.short}"):
            client = self._client(cloud.subscription)
            # "" for a connection without a prefix: the rules refuse it rather than assume it routes nothing.
            return [getattr(raw.properties, "address_prefix", None) or ""
                    for raw in client.global_reach_connections.list(cloud.resource_group, cloud.name)]

    def permissions(self, cloud: CloudId) -> list[PermissionEntry]:
        # Through send_request rather than azure-mgmt-authorization: one GET does not justify a 15 MB package.
        with translated(f"reading the app's permissions on {cloud.short}"):
            # Each name percent-encoded as one segment, as the SDK's own builders do: str(cloud) is for people.
            response = self._client(cloud.subscription).send_request(HttpRequest(
                "GET", f"{cloud.url_path}/providers/Microsoft.Authorization/permissions",
                params={"api-version": "2022-04-01"}))
            response.raise_for_status()
            entries = []
            while True:
                body = response.json()
                entries += [PermissionEntry(tuple(e.get("actions") or ()), tuple(e.get("notActions") or ()))
                            for e in body.get("value", [])]
                if not body.get("nextLink"):
                    return entries
                response = self._client(cloud.subscription).send_request(
                    HttpRequest("GET", self._same_arm(body["nextLink"])))
                response.raise_for_status()

    def _same_arm(self, url: object) -> str:
        """A `nextLink` from an ARM answer, if it points back at this ARM endpoint: the pipeline would send it
        our token wherever it pointed."""
        ours, theirs = urlparse(self._base_url), urlparse(url if isinstance(url, str) else "")
        if (theirs.scheme, theirs.netloc.lower()) != (ours.scheme, ours.netloc.lower()):
            raise ArmError("ARM answered a nextLink on another host; not followed", code="ARM_INVALID_NEXT_LINK")
        return url  # type: ignore[return-value]

    @staticmethod
    def _link(cloud: CloudId, raw: Any) -> Link:
        return Link(source=cloud, name=raw.name, target=parse_cloud_id(raw.properties.linked_cloud),
                    status=_text(raw.properties.status))

    def create_link(self, cloud: CloudId, name: str, target: CloudId) -> float | None:
        _url_safe(name)
        seen: dict[str, float | None] = {}
        with translated(f"creating link {name} on {cloud.short}"):
            self._client(cloud.subscription).cloud_links.begin_create_or_update(
                cloud.resource_group, cloud.name, name, {"properties": {"linkedCloud": str(target)}},
                polling=False, raw_response_hook=_capture_retry_after(seen))
        return seen.get("retry_after")

    def delete_link(self, cloud: CloudId, name: str) -> float | None:
        _url_safe(name)
        seen: dict[str, float | None] = {}
        with translated(f"deleting link {name} on {cloud.short}"):
            self._client(cloud.subscription).cloud_links.begin_delete(
                cloud.resource_group, cloud.name, name, polling=False, raw_response_hook=_capture_retry_after(seen))
        return seen.get("retry_after")

    def ping(self) -> None:
        # Any HTTP answer means ARM is reachable; a subscription-less provider path needs no fleet knowledge.
        with translated("reaching ARM"):
            client = self._client("00000000-0000-0000-0000-000000000000")
            response = client.send_request(HttpRequest("GET", "/providers/Microsoft.AVS/operations",
                                                       params={"api-version": "2026-03-01"}))
            if response.status_code >= 500:
                raise DependencyError(f"ARM answered {response.status_code}")


class _NoToken:
    """The client requires a credential even when its authentication policy never asks for a token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise RuntimeError("no token is sent to the local ARM simulator")


class RemainingBudgetPacing(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Slow down before ARM says no: pace calls when `x-ms-ratelimit-remaining-subscription-*` runs low.

    ARM throttles per subscription and operation type with a token bucket and reports what is left on every
    answer. When that falls to a few calls, each further call waits a little (longer the emptier the
    bucket), so parallel readers spread out instead of all drawing a 429 and a whole-second Retry-After.
    """

    LOW = 5
    STEP = 0.05  # seconds of pause per missing token below LOW

    def __init__(self, sleep: Any = time.sleep) -> None:
        self._remaining: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._sleep = sleep

    @staticmethod
    def _key(request: Any) -> tuple[str, str] | None:
        parts = urlparse(request.http_request.url).path.split("/")
        if len(parts) < 3 or parts[1].lower() != "subscriptions":
            return None
        kind = {"GET": "reads", "DELETE": "deletes"}.get(request.http_request.method, "writes")
        return parts[2].lower(), kind

    def on_request(self, request: Any) -> None:
        key = self._key(request)
        with self._lock:
            remaining = self._remaining.get(key) if key else None
        if remaining is not None and remaining < self.LOW:
            self._sleep(self.STEP * (self.LOW - remaining))

    def on_response(self, request: Any, response: Any) -> None:
        key = self._key(request)
        value = response.http_response.headers.get(f"x-ms-ratelimit-remaining-subscription-{key[1]}") if key else None
        if key and value is not None and value.isdigit():
            with self._lock:
                self._remaining[key] = int(value)


def _capture_retry_after(seen: dict[str, float | None]) -> Any:
    def hook(response: PipelineResponse) -> None:  # type: ignore[type-arg]
        seen["retry_after"] = _retry_after(response.http_response.headers)
    return hook


def is_local(base_url: str) -> bool:
    parsed = urlparse(base_url)
    return parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost", "::1")



