"""Microsoft.AVS through azure-mgmt-avs: read clouds and links, start link creates and deletes.

One `AVSClient` per subscription, because the SDK fixes the subscription per client and links may join
clouds in different subscriptions. LROs are started with `polling=False`: the worker follows them with
scheduled check messages instead of blocking an invocation for minutes.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlparse

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.core.rest import HttpRequest, HttpResponse

from interconnect.adapters import telemetry
from interconnect.adapters.metrics import ArmCallMetering
from interconnect.avs.ids import CloudId, check_resource_name, parse_cloud_id
from interconnect.avs.resources import MALFORMED_ANSWER, Cloud, Link, PermissionEntry, Segment
from interconnect.errors import (
    ArmError,
    DependencyError,
    MalformedAnswerError,
    ThrottledError,
    ValidationError,
    usable_retry_after,
)

if TYPE_CHECKING:
    from azure.mgmt.avs import AVSClient

T = TypeVar("T")
PUBLIC_ARM = "https://management.azure.com"
# 409s that go away by themselves. Others (CloudLinkConflict, CloudLinkAlreadyExists) never will.
TRANSIENT_CONFLICTS = frozenset({"anotheroperationinprogress", "conflict", "privatecloudnotsucceeded"})
_ARM_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,79}")
MAX_ARM_MESSAGE = 300
MAX_SHOWN = 40  # characters of a malformed value a message repeats: enough to recognise it, never a payload
MAX_TEXT = 80  # a location, a provisioning state, a link status, a segment name
MAX_PREFIX = 64  # the longest IPv6 CIDR is 43 characters
MAX_ACTION = 256  # an Authorization action pattern
MAX_PAGES = 100  # permission pages followed before the answer is called malformed (a nextLink loop)
MAX_NAMED = 5  # malformed items a message names; the rest are counted


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """ARM's Retry-After in seconds, when it is a usable number (`usable_retry_after`); an HTTP-date is ignored."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return usable_retry_after(float(value) if value is not None else None)
    except ValueError:
        return None


def _arm_code(raw: object, status: int) -> str:
    """ARM's error code as it may travel on (into a reason code, a stored row, a log line): ARM's own grammar of
    letters, digits and a few separators, else just the status."""
    return raw if isinstance(raw, str) and _ARM_CODE.fullmatch(raw) else f"HTTP_{status}"


def _arm_message(raw: object) -> str:
    """ARM's error message on one printable line, cut to a size a person reads (it is stored with the request)."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(raw)).split())
    return text if len(text) <= MAX_ARM_MESSAGE else text[: MAX_ARM_MESSAGE - 1] + "…"


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Map azure-core errors to ours: 429 throttled, 409/5xx/network retryable, other 4xx permanent."""
    try:
        yield
    except HttpResponseError as exc:
        status = exc.status_code or 0
        # azure-core types `response` as a protocol without `headers`; every response it carries has them.
        retry_after = _retry_after(getattr(exc.response, "headers", None))
        code = _arm_code(getattr(exc.error, "code", None), status)
        message = _arm_message(getattr(exc.error, "message", None) or exc.reason or str(exc))
        details = {"status": status, "armCode": code}
        if status == 429:
            raise ThrottledError(f"{what}: ARM throttled the call", retry_after=retry_after, details=details) from exc
        if (status == 409 and code.lower() in TRANSIENT_CONFLICTS) or status >= 500 or status == 408:
            raise DependencyError(
                f"{what}: ARM answered {status} {code}", retry_after=retry_after, details=details
            ) from exc
        raise ArmError(
            f"{what}: {message}", code=f"ARM_{code}" if not code.startswith("ARM") else code, details=details
        ) from exc
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
        raise ArmError(
            f"refusing to address link {link_name[:80]!r}: {exc.message}",
            code="INVALID_NAME",
            details={"field": "linkName"},
        ) from None


# ------------------------------------------------------------------------------------ reading ARM's answers
# An ARM answer is outside input. The SDK's models coerce what they are given (a number becomes "5", an
# object its repr, a string where a list belongs a generator's repr) or fail with whatever Python raises, so
# the answers are read here from the JSON the models wrap (they are Mappings over it), every field checked
# for its type and size before it becomes a fact. What does not fit is a MalformedAnswerError naming the
# read, the object and the field, repeating at most MAX_SHOWN characters of the value.


class _Bad(Exception):
    """One malformed thing in an answer: where (the object and JSON field) and what is wrong with it."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where} {problem}")
        self.text = f"{where} {problem}"


def _shown(value: object) -> str:
    """A value from an answer as a message may repeat it: a short printable excerpt, or just its JSON kind."""
    if isinstance(value, str):
        text = "".join(ch if ch.isprintable() else "?" for ch in value[:MAX_SHOWN])
        return repr(text + ("…" if len(value) > MAX_SHOWN else ""))
    kinds = {bool: "a boolean", int: "a number", float: "a number", type(None): "null"}
    return kinds.get(type(value)) or (
        "a list"
        if isinstance(value, list)
        else "an object"
        if isinstance(value, Mapping)
        else "a value of another kind"
    )


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):  # SDK models are Mappings over the JSON they were built from
        raise _Bad(where, f"is {_shown(value)}, not an object")
    return value


def _string(obj: Mapping[str, Any], key: str, where: str, *, limit: int = MAX_TEXT) -> str:
    """The string at `key`, "" when absent or null (the rules decide what a missing value means)."""
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Bad(f"{where}{key}", f"is {_shown(value)}, not a string")
    if len(value) > limit or not value.isprintable():
        raise _Bad(f"{where}{key}", f"is {_shown(value)}: not {limit} printable characters at most")
    return value


def _strings(obj: Mapping[str, Any], key: str, where: str, *, limit: int) -> tuple[str, ...]:
    """The list of strings at `key` (empty when absent); a null item is kept as "" for the rules to refuse."""
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _Bad(f"{where}{key}", f"is {_shown(value)}, not a list")
    return tuple(_string({"": item}, "", f"{where}{key}[{i}]", limit=limit) for i, item in enumerate(value))


def _named(raw: object, kind: str, index: int) -> str:
    """How a message names an item of a listing: its name when that is a plain short one, else its place."""
    name = raw.get("name") if isinstance(raw, Mapping) else None
    if isinstance(name, str) and 0 < len(name) <= MAX_TEXT and name.isprintable():
        return f"{kind} {_shown(name)}"
    return f"{kind} #{index + 1}"


def to_cloud(raw: Any) -> Cloud:
    """A private cloud from its ARM JSON. Raises _Bad for anything the API does not describe.

    An entry of `externalCloudLinks` that names no cloud is malformed, not skipped: it is a link to this cloud
    held by a cloud we could not identify, which the link count and the neighbour checks must not lose.
    """
    body = _object(raw, "the cloud")
    try:
        cloud_id = parse_cloud_id(body.get("id"))
    except ValidationError:
        raise _Bad("the cloud's id", f"is {_shown(body.get('id'))}, not a private cloud id") from None
    props = _object(body.get("properties"), f"{cloud_id.short}: properties")
    where = f"{cloud_id.short}: properties."
    location = _string(body, "location", f"{cloud_id.short}: ")
    if not location:
        raise _Bad(f"{cloud_id.short}: location", "is missing")
    circuits = []
    for key in ("circuit", "secondaryCircuit"):
        if props.get(key) is not None:
            circuit = _object(props.get(key), f"{where}{key}")
            # A circuit ARM lists routes both its /30s: a missing one is kept as "" for the rules to refuse.
            circuits += [
                _string(circuit, side, f"{where}{key}.", limit=MAX_PREFIX)
                for side in ("primarySubnet", "secondarySubnet")
            ]
    external = []
    for i, text in enumerate(_strings(props, "externalCloudLinks", where, limit=1000)):
        holder = _cloud_of(text)
        if holder is None:
            raise _Bad(f"{where}externalCloudLinks[{i}]", f"is {_shown(text)}, not a private cloud or cloud link id")
        external.append(holder)
    return Cloud(
        id=cloud_id,
        location=location,
        provisioning_state=_string(props, "provisioningState", where),
        network_block=_string(props, "networkBlock", where, limit=MAX_PREFIX),
        extended_network_blocks=_strings(props, "extendedNetworkBlocks", where, limit=MAX_PREFIX),
        circuit_subnets=tuple(circuits),
        external_links=tuple(dict.fromkeys(external)),
    )


def _link_of(cloud: CloudId, raw: Any, index: int) -> Link:
    """A `cloudLinks` item from its ARM JSON; its name goes into URLs and its target into the rules."""
    what = _named(raw, "link", index)
    body = _object(raw, what)
    raw_name = body.get("name")
    try:
        name = check_resource_name(raw_name, "link name")
    except ValidationError:
        raise _Bad(f"{what}: name", f"is {_shown(raw_name)}, not a link name ARM allows") from None
    props = _object(body.get("properties"), f"{what}: properties")
    linked = props.get("linkedCloud")
    try:
        target = parse_cloud_id(linked)
    except ValidationError:
        raise _Bad(f"{what}: properties.linkedCloud", f"is {_shown(linked)}, not a private cloud id") from None
    return Link(source=cloud, name=name, target=target, status=_string(props, "status", f"{what}: properties."))


def _segment_of(raw: Any, index: int) -> Segment:
    what = _named(raw, "segment", index)
    body = _object(raw, what)
    props = _object(body.get("properties"), f"{what}: properties")
    subnet = props.get("subnet")
    gateway = (
        ""
        if subnet is None
        else _string(
            _object(subnet, f"{what}: properties.subnet"),
            "gatewayAddress",
            f"{what}: properties.subnet.",
            limit=MAX_PREFIX,
        )
    )
    # Every segment is passed on, with "" for what ARM left out: a connected segment without a gateway
    # address must reach the rules (INVALID_PREFIX), not vanish here (interconnect/avs/routed.py).
    return Segment(
        _string(body, "name", f"{what}: "),
        gateway,
        _string(props, "connectedGateway", f"{what}: properties.", limit=1000),
    )


def _reach_of(raw: Any, index: int) -> str:
    what = _named(raw, "Global Reach connection", index)
    props = _object(_object(raw, what).get("properties"), f"{what}: properties")
    # "" for a connection without a prefix: the rules refuse it rather than assume it routes nothing.
    return _string(props, "addressPrefix", f"{what}: properties.", limit=MAX_PREFIX)


def _permission_of(raw: Any, index: int) -> PermissionEntry:
    where = f"permissions value[{index}]."
    entry = _object(raw, where[:-1])
    return PermissionEntry(
        _strings(entry, "actions", where, limit=MAX_ACTION), _strings(entry, "notActions", where, limit=MAX_ACTION)
    )


def _malformed(read: str, subject: str, problems: list[str], partial: list[Any] | None = None) -> MalformedAnswerError:
    shown = "; ".join(problems[:MAX_NAMED]) + (
        f" and {len(problems) - MAX_NAMED} more" if len(problems) > MAX_NAMED else ""
    )
    return MalformedAnswerError(
        f"ARM's answer to {read} of {subject} is malformed: {shown}",
        partial=partial,
        details={"status": 200, "armCode": MALFORMED_ANSWER, "read": read, "malformed": problems[:MAX_NAMED]},
    )


def _fetch(
    what: str, read: str, subject: str, call: Callable[[], Iterable[Any]], *, missing_ok: bool = False
) -> list[Any] | None:
    """Run one SDK read and take its items (a paged listing fetches its pages as it is iterated); None when
    `missing_ok` and ARM answered 404.

    The SDK meets some malformed answers before we see them (a body that is not JSON, a page whose `value`
    is no list, a model built from a string) and fails with whatever Python raises there; scoped to this
    call alone, that is ARM's answer being malformed, not our bug.
    """
    with translated(what):
        try:
            return list(call())
        except ResourceNotFoundError:
            if missing_ok:
                return None
            raise
        except (ValueError, TypeError, AttributeError, KeyError) as exc:  # DeserializationError is a ValueError
            raise _malformed(
                read, subject, [f"the answer is not the JSON the API describes ({type(exc).__name__})"]
            ) from None


def _each(read: str, subject: str, items: list[Any], convert: Callable[[Any, int], T], *, partial_ok: bool) -> list[T]:
    """Every item converted, or MalformedAnswerError naming each malformed one. With `partial_ok` the
    well-formed items ride along for callers that may show them; the error itself is never dropped."""
    good: list[T] = []
    problems: list[str] = []
    for index, raw in enumerate(items):
        try:
            good.append(convert(raw, index))
        except _Bad as bad:
            problems.append(bad.text)
    if problems:
        raise _malformed(read, subject, problems, partial=good if partial_ok else None)
    return good


def _listed(
    what: str,
    read: str,
    subject: str,
    call: Callable[[], Iterable[Any]],
    convert: Callable[[Any, int], T],
    *,
    partial_ok: bool,
) -> list[T]:
    """One SDK listing (`_fetch`), every item converted (`_each`): a 404 is an error here, never an empty list."""
    return _each(read, subject, _fetch(what, read, subject, call) or [], convert, partial_ok=partial_ok)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def arm_call(method: Callable[Concatenate[Any, _P], _R]) -> Callable[Concatenate[Any, _P], _R]:
    """A client span around one gateway call to ARM (its pages and retries within): the operation and the
    clouds it concerns by name, and the error code when it fails; never a URL, token or body."""
    operation = method.__name__

    @functools.wraps(method)
    def traced(gateway: Any, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        clouds = [a.name for a in args if isinstance(a, CloudId)]
        attributes = {
            "interconnect.arm.operation": operation,
            "interconnect.cloud.source": clouds[0] if clouds else None,
            "interconnect.cloud.target": clouds[1] if len(clouds) > 1 else None,
        }
        with telemetry.span(f"ARM {operation}", "client", attributes):
            return method(gateway, *args, **kwargs)

    return traced


# Connections kept open to ARM: a topology plan reads 32 at a time (estate/gather.py), beside the worker's calls.
ARM_CONNECTIONS = 48


class AvsSdkGateway:
    """`AvsGateway` on azure-mgmt-avs. `credential` None sends no token (INTERCONNECT_ARM_AUTH=none)."""

    def __init__(
        self,
        credential: TokenCredential | None,
        *,
        base_url: str = PUBLIC_ARM,
        retry_total: int = 3,
        **client_kwargs: Any,
    ) -> None:
        self._credential: TokenCredential = _NoToken() if credential is None else credential
        self._base_url = base_url.rstrip("/")
        # One pacing policy for every client: the budget is per subscription, whichever client spends it.
        self._pacing = RemainingBudgetPacing()
        self._kwargs: dict[str, Any] = {
            "retry_total": retry_total,
            "per_call_policies": [SameArmOnly(self._base_url), self._pacing],
            # Per retry: each attempt is counted with its answer, so 429s the SDK retried still show.
            "per_retry_policies": [ArmCallMetering()],
            **client_kwargs,
        }
        if credential is None:
            # No credential was given (INTERCONNECT_ARM_AUTH=none: a local ARM simulator over plain HTTP, where
            # the bearer policy refuses to send tokens): no token is asked for or sent.
            self._kwargs["authentication_policy"] = SansIOHTTPPolicy[HttpRequest, HttpResponse]()
        elif self._base_url != PUBLIC_ARM:
            # A sovereign cloud's ARM wants a token for its own audience, not management.azure.com's.
            self._kwargs.setdefault("credential_scopes", [f"{self._base_url}/.default"])
        self._clients: dict[str, AVSClient] = {}
        self._lock = threading.Lock()

    def _client(self, subscription: str) -> AVSClient:
        # Imported at the first ARM call, not with the gateway: services that hold the gateway (chat, queries)
        # answer many requests without asking ARM, and the SDK's models take a cold instance ~80 ms to load.
        from azure.mgmt.avs import AVSClient

        with self._lock:
            if "transport" not in self._kwargs:
                from interconnect.adapters.tables import for_endpoint, pooled_transport

                # One pool for every subscription's client, kept open for the reads a plan makes at once, and the
                # environment's proxy settings asked once: by default requests re-reads the whole environment on
                # every call, which was a third of the CPU of reading a 100-cloud estate (bench/topology_plan.py).
                transport = pooled_transport(ARM_CONNECTIONS)
                for_endpoint(transport, self._base_url)
                self._kwargs["transport"] = transport
            if subscription not in self._clients:
                self._clients[subscription] = AVSClient(
                    self._credential, subscription, base_url=self._base_url, **self._kwargs
                )
            return self._clients[subscription]

    @arm_call
    def get_cloud(self, cloud: CloudId) -> Cloud | None:
        client = self._client(cloud.subscription)
        raws = _fetch(
            f"reading private cloud {cloud.short}",
            "privateClouds.get",
            cloud.short,
            lambda: [client.private_clouds.get(cloud.resource_group, cloud.name)],
            missing_ok=True,
        )
        if raws is None:
            return None
        (found,) = _each("privateClouds.get", cloud.short, raws, lambda r, _: to_cloud(r), partial_ok=False)
        if found.id.normalized != cloud.normalized:
            raise _malformed("privateClouds.get", cloud.short, [f"the answer is about another cloud, {found.id.short}"])
        return found

    @arm_call
    def list_clouds(self, subscription: str) -> list[Cloud]:
        """Every cloud of the subscription; a malformed one makes the listing a MalformedAnswerError whose
        `partial` holds the well-formed clouds (an inventory may show them, naming the others)."""
        client = self._client(subscription)
        subject = f"subscription {subscription}"
        return _listed(
            f"listing private clouds of {subject}",
            "privateClouds.list",
            subject,
            client.private_clouds.list_in_subscription,
            lambda r, _: to_cloud(r),
            partial_ok=True,
        )

    @arm_call
    def list_links(self, cloud: CloudId) -> list[Link]:
        """The links `cloud` holds; a malformed one makes the listing a MalformedAnswerError whose `partial`
        holds the well-formed links, so a link is never silently left out of a count."""
        client = self._client(cloud.subscription)
        return _listed(
            f"listing links of {cloud.short}",
            "cloudLinks.list",
            cloud.short,
            lambda: client.cloud_links.list(cloud.resource_group, cloud.name),
            lambda r, i: _link_of(cloud, r, i),
            partial_ok=True,
        )

    @arm_call
    def get_link(self, cloud: CloudId, name: str) -> Link | None:
        _url_safe(name)
        client = self._client(cloud.subscription)
        raws = _fetch(
            f"reading link {name} of {cloud.short}",
            "cloudLinks.get",
            cloud.short,
            lambda: [client.cloud_links.get(cloud.resource_group, cloud.name, name)],
            missing_ok=True,
        )
        if raws is None:
            return None
        (link,) = _each("cloudLinks.get", cloud.short, raws, lambda r, i: _link_of(cloud, r, i), partial_ok=False)
        return link

    @arm_call
    def list_segments(self, cloud: CloudId) -> list[Segment]:
        # No partial answer: a segment left out could hide an overlap.
        client = self._client(cloud.subscription)
        return _listed(
            f"listing segments of {cloud.short}",
            "segments.list",
            cloud.short,
            lambda: client.workload_networks.list_segments(cloud.resource_group, cloud.name),
            _segment_of,
            partial_ok=False,
        )

    @arm_call
    def list_global_reach(self, cloud: CloudId) -> list[str]:
        client = self._client(cloud.subscription)
        return _listed(
            f"listing Global Reach connections of {cloud.short}",
            "globalReach.list",
            cloud.short,
            lambda: client.global_reach_connections.list(cloud.resource_group, cloud.name),
            _reach_of,
            partial_ok=False,
        )

    @arm_call
    def permissions(self, cloud: CloudId) -> list[PermissionEntry]:
        # Through send_request rather than azure-mgmt-authorization: one GET does not justify a 15 MB package.
        client = self._client(cloud.subscription)
        # Each name percent-encoded as one segment, as the SDK's own builders do: str(cloud) is for people.
        request = HttpRequest(
            "GET",
            f"{cloud.url_path}/providers/Microsoft.Authorization/permissions",
            params={"api-version": "2022-04-01"},
        )
        entries: list[PermissionEntry] = []
        for _ in range(MAX_PAGES):
            bodies = (
                _fetch(
                    f"reading the app's permissions on {cloud.short}",
                    "permissions.list",
                    cloud.short,
                    partial(self._answers, client, request),
                )
                or []
            )
            (page,) = _each("permissions.list", cloud.short, bodies, lambda b, _: self._page(b), partial_ok=False)
            # A string of actions would read as one action per character ("*" among them): checked as a list.
            entries += _each("permissions.list", cloud.short, page[0], _permission_of, partial_ok=False)
            if not page[1]:
                return entries
            request = HttpRequest("GET", self._same_arm(page[1]))
        raise _malformed("permissions.list", cloud.short, [f"nextLink still set after {MAX_PAGES} pages"])

    @classmethod
    def _answers(cls, client: AVSClient, request: HttpRequest) -> list[Any]:
        """One GET's JSON answer, as the one-item listing `_fetch` takes."""
        return [cls._json(client, request)]

    @staticmethod
    def _json(client: AVSClient, request: HttpRequest) -> Any:
        response = client.send_request(request)
        response.raise_for_status()
        return response.json()

    @staticmethod
    def _page(raw: Any) -> tuple[list[Any], str]:
        """A permissions page: its entries and its nextLink ("" when it is the last)."""
        body = _object(raw, "the answer")
        value = body.get("value")
        if value is not None and not isinstance(value, list):
            raise _Bad("value", f"is {_shown(value)}, not a list")
        return value or [], _string(body, "nextLink", "", limit=4000)

    def _same_arm(self, url: object) -> str:
        """A `nextLink` from an ARM answer, if it points back at this ARM endpoint: the pipeline would send it
        our token wherever it pointed."""
        link = url if isinstance(url, str) else ""
        ours, theirs = urlparse(self._base_url), urlparse(link)
        if (theirs.scheme, theirs.netloc.lower()) != (ours.scheme, ours.netloc.lower()):
            raise ArmError("ARM answered a nextLink on another host; not followed", code="ARM_INVALID_NEXT_LINK")
        return link

    @arm_call
    def create_link(self, cloud: CloudId, name: str, target: CloudId) -> float | None:
        _url_safe(name)
        seen: dict[str, float | None] = {}
        with translated(f"creating link {name} on {cloud.short}"):
            self._client(cloud.subscription).cloud_links.begin_create_or_update(
                cloud.resource_group,
                cloud.name,
                name,
                {"properties": {"linkedCloud": str(target)}},
                polling=False,
                raw_response_hook=_capture_retry_after(seen),
            )
        return seen.get("retry_after")

    @arm_call
    def delete_link(self, cloud: CloudId, name: str) -> float | None:
        _url_safe(name)
        seen: dict[str, float | None] = {}
        with translated(f"deleting link {name} on {cloud.short}"):
            self._client(cloud.subscription).cloud_links.begin_delete(
                cloud.resource_group, cloud.name, name, polling=False, raw_response_hook=_capture_retry_after(seen)
            )
        return seen.get("retry_after")

    @arm_call
    def ping(self) -> None:
        # Any HTTP answer means ARM is reachable; a subscription-less provider path needs no fleet knowledge.
        with translated("reaching ARM"):
            client = self._client("00000000-0000-0000-0000-000000000000")
            response = client.send_request(
                HttpRequest("GET", "/providers/Microsoft.AVS/operations", params={"api-version": "2026-03-01"})
            )
            if response.status_code >= 500:
                raise DependencyError(f"ARM answered {response.status_code}")


class _NoToken:
    """The client requires a credential even when its authentication policy never asks for a token."""

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        raise RuntimeError("INTERCONNECT_ARM_AUTH is none: no token is sent to ARM")


class SameArmOnly(SansIOHTTPPolicy[HttpRequest, HttpResponse]):
    """Send nothing anywhere but the ARM endpoint configured.

    The SDK's pagers follow the `nextLink` of each page as ARM wrote it, and the pipeline would hand that
    host our token. A page pointing elsewhere is a malformed (or hostile) answer: refused before sending.
    """

    def __init__(self, base_url: str) -> None:
        parsed = urlparse(base_url)
        self._origin = (parsed.scheme.lower(), parsed.netloc.lower())

    def on_request(self, request: PipelineRequest[HttpRequest]) -> None:
        parsed = urlparse(request.http_request.url)
        if (parsed.scheme.lower(), parsed.netloc.lower()) != self._origin:
            raise MalformedAnswerError(
                "ARM answered a nextLink on another host; not followed",
                details={"status": 200, "armCode": MALFORMED_ANSWER},
            )


class RemainingBudgetPacing(SansIOHTTPPolicy[HttpRequest, HttpResponse]):
    """Slow down before ARM says no: pace calls when `x-ms-ratelimit-remaining-subscription-*` runs low.

    ARM throttles per subscription and operation type with a token bucket and reports what is left on every
    answer. When that falls to a few calls, each further call waits a little (longer the emptier the
    bucket), so parallel readers spread out instead of all drawing a 429 and a whole-second Retry-After.
    """

    LOW = 5
    STEP = 0.05  # seconds of pause per missing token below LOW

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._remaining: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._sleep = sleep

    @staticmethod
    def _key(request: PipelineRequest[HttpRequest]) -> tuple[str, str] | None:
        parts = urlparse(request.http_request.url).path.split("/")
        if len(parts) < 3 or parts[1].lower() != "subscriptions":
            return None
        kind = {"GET": "reads", "DELETE": "deletes"}.get(request.http_request.method, "writes")
        return parts[2].lower(), kind

    def on_request(self, request: PipelineRequest[HttpRequest]) -> None:
        key = self._key(request)
        with self._lock:
            remaining = self._remaining.get(key) if key else None
        if remaining is not None and remaining < self.LOW:
            self._sleep(self.STEP * (self.LOW - remaining))

    def on_response(
        self, request: PipelineRequest[HttpRequest], response: PipelineResponse[HttpRequest, HttpResponse]
    ) -> None:
        key = self._key(request)
        value = response.http_response.headers.get(f"x-ms-ratelimit-remaining-subscription-{key[1]}") if key else None
        if key and value is not None and value.isdigit():
            with self._lock:
                self._remaining[key] = int(value)


def _capture_retry_after(
    seen: dict[str, float | None],
) -> Callable[[PipelineResponse[HttpRequest, HttpResponse]], None]:
    def hook(response: PipelineResponse[HttpRequest, HttpResponse]) -> None:
        seen["retry_after"] = _retry_after(response.http_response.headers)

    return hook
