"""The ARM paths the simulator answers, and the call kind each (path, method) is logged and scoped as.

Kinds (`cloudLinks.put`, `operation.poll`, ...) are the vocabulary tests use to count ARM calls and to
aim faults, so they live in one table here. Segments match case-insensitively, as ARM does; captured
names keep the caller's casing and are URL-decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

_CLOUD = "/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.avs/privateclouds/{cloud}"
_OPERATIONS = "/subscriptions/{sub}/providers/microsoft.avs/locations/{location}"


@dataclass(frozen=True)
class Route:
    pattern: tuple[str, ...]
    kinds: dict[str, str]  # HTTP method -> call kind

    @classmethod
    def of(cls, pattern: str, **kinds: str) -> Route:
        return cls(tuple(pattern.strip("/").split("/")), kinds)


ROUTES = (
    Route.of("/providers/microsoft.avs/operations", GET="operations.list"),
    Route.of("/subscriptions/{sub}/providers/microsoft.avs/privateclouds", GET="privateClouds.listInSubscription"),
    Route.of(
        "/subscriptions/{sub}/resourcegroups/{rg}/providers/microsoft.avs/privateclouds", GET="privateClouds.list"
    ),
    Route.of(_CLOUD, GET="privateClouds.get"),
    Route.of(_CLOUD + "/cloudlinks", GET="cloudLinks.list"),
    Route.of(_CLOUD + "/cloudlinks/{link}", GET="cloudLinks.get", PUT="cloudLinks.put", DELETE="cloudLinks.delete"),
    Route.of(_CLOUD + "/workloadnetworks/default/segments", GET="segments.list"),
    Route.of(_CLOUD + "/globalreachconnections", GET="globalReach.list"),
    Route.of(_CLOUD + "/providers/microsoft.authorization/permissions", GET="permissions.list"),
    Route.of(_OPERATIONS + "/operationstatuses/{operation}", GET="operation.poll"),
    Route.of(_OPERATIONS + "/operationresults/{operation}", GET="operation.poll"),
)

UNKNOWN = "unknown"
KINDS = frozenset(kind for route in ROUTES for kind in route.kinds.values()) | {UNKNOWN}


@dataclass(frozen=True)
class Match:
    kind: str
    params: dict[str, str]
    method_allowed: bool


def subscription_of(path: str) -> str | None:
    """The subscription a path is metered against, for every /subscriptions/... path."""
    parts = path.strip("/").split("/")
    return unquote(parts[1]) if len(parts) > 1 and parts[0].lower() == "subscriptions" else None


def match(method: str, path: str) -> Match | None:
    parts = [unquote(p) for p in path.strip("/").split("/")]
    for route in ROUTES:
        params = _match(route.pattern, parts)
        if params is not None:
            kind = route.kinds.get(method)
            return Match(kind or UNKNOWN, params, kind is not None)
    return None


def _match(pattern: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    if len(pattern) != len(parts):
        return None
    params: dict[str, str] = {}
    for want, got in zip(pattern, parts, strict=True):
        if want.startswith("{"):
            if not got:
                return None
            params[want[1:-1]] = got
        elif want != got.lower():
            return None
    return params
