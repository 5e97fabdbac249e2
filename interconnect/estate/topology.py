"""A topology document resolved against the clouds read: its scope, and each declared link between two cloud ids.

Cloud references resolve as chat and `GET /api/clouds` resolve them (interconnect/channels/chat.py): a full ARM id
is taken as it is (a cloud that does not exist is then the pre-flight's CLOUD_NOT_FOUND, the reason a request for
it would get); 'name' and 'resource-group/name' must name exactly one of the clouds read, narrowed by the
document's `defaults`. Then every declared link must lie within the scope and name two clouds, and no pair may be
declared twice. Every such problem is reported, each with its code and where it is:

    TOPOLOGY_INVALID          a reference that can name no cloud
    TOPOLOGY_UNKNOWN_CLOUD    a short name no cloud read has (close matches in `candidates`)
    TOPOLOGY_AMBIGUOUS_CLOUD  a short name several clouds have (all of them in `candidates`)
    TOPOLOGY_OUT_OF_SCOPE     a declared link with an end outside the scope, which the document may not manage
    TOPOLOGY_SAME_CLOUD       a link from a cloud to itself
    TOPOLOGY_DUPLICATE_LINK   the same pair declared twice (in either order or form), naming both places
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from interconnect.avs.ids import CloudId, parse_cloud_id
from interconnect.channels.chat import Unresolved, resolve_cloud
from interconnect.errors import ValidationError
from interconnect.estate.document import INVALID, MAX_LISTED, ParsedDocument, Problem, Where, join, refusal

UNKNOWN_CLOUD = "TOPOLOGY_UNKNOWN_CLOUD"
AMBIGUOUS_CLOUD = "TOPOLOGY_AMBIGUOUS_CLOUD"
OUT_OF_SCOPE = "TOPOLOGY_OUT_OF_SCOPE"
SAME_CLOUD = "TOPOLOGY_SAME_CLOUD"
DUPLICATE_LINK = "TOPOLOGY_DUPLICATE_LINK"


@dataclass(frozen=True)
class Scope:
    """The subscriptions and resource groups a document manages (lower-case, as ARM compares them)."""

    subscriptions: frozenset[str]
    resource_groups: frozenset[tuple[str, str]]  # (subscription, resource group)

    def covers(self, cloud: CloudId) -> bool:
        subscription = cloud.subscription.lower()
        return (
            subscription in self.subscriptions or (subscription, cloud.resource_group.lower()) in self.resource_groups
        )

    def manages(self, a: CloudId, b: CloudId) -> bool:
        """Whether a link between `a` and `b` is the document's to make or remove: both ends in scope."""
        return self.covers(a) and self.covers(b)

    def to_view(self) -> dict[str, Any]:
        return {
            "subscriptions": sorted(self.subscriptions),
            "resourceGroups": [f"/subscriptions/{s}/resourceGroups/{g}" for s, g in sorted(self.resource_groups)],
        }


@dataclass(frozen=True)
class DeclaredLink:
    """A link the document asks for: made on `source`, pointing at `target`, when it has to be made."""

    source: CloudId  # `from`, or the first of `between`
    target: CloudId
    directed: bool  # whether the document said which end holds it (`from`/`to`)
    where: Where
    description: str = ""

    @property
    def pair(self) -> frozenset[CloudId]:
        return frozenset((self.source, self.target))


@dataclass(frozen=True)
class Topology:
    """A resolved document: what `scope` should hold is exactly `links`."""

    scope: Scope
    links: tuple[DeclaredLink, ...]
    name: str = ""

    def declared(self) -> dict[frozenset[CloudId], DeclaredLink]:
        return {link.pair: link for link in self.links}


def resolve(parsed: ParsedDocument, known: Sequence[CloudId]) -> Topology:
    """The document's links as cloud ids. `known`: the clouds short names are looked up among (those read).

    Raises
    ------
    ValidationError
        With every problem (module docstring) in `details.problems`; its code is theirs when they share one,
        else TOPOLOGY_INVALID.
    """
    document = parsed.document
    scope = scope_of(parsed)
    defaults = document.defaults
    subscription = (defaults.subscription or "").strip().lower() if defaults else ""
    group = (defaults.resource_group or "") if defaults else ""
    candidates = _Known([c for c in dict.fromkeys(known) if not subscription or c.subscription.lower() == subscription])
    problems: list[Problem] = []
    seen: dict[frozenset[CloudId], DeclaredLink] = {}
    links: list[DeclaredLink] = []
    for index, entry in enumerate(document.links):
        path = f"links[{index}]"
        if entry.between is not None:
            refs = [(join(path, "between") + f"[{i}]", ref) for i, ref in enumerate(entry.between)]
        else:
            assert entry.source is not None and entry.target is not None  # parse_document holds the forms
            refs = [(join(path, "from"), entry.source), (join(path, "to"), entry.target)]
        ends = [_cloud(parsed.where(at), ref, candidates, group, problems) for at, ref in refs]
        source, target = ends
        if source is None or target is None:
            continue
        where = parsed.where(path)
        outside = [
            (at, cloud) for (at, _), cloud in zip(refs, (source, target), strict=True) if not scope.covers(cloud)
        ]
        for at, cloud in outside:
            problems.append(
                Problem(
                    OUT_OF_SCOPE,
                    parsed.where(at),
                    f"{cloud.short} is outside the document's scope; a link with an end outside it is never "
                    "managed here (add its subscription or resource group to `scope`)",
                    {"cloud": str(cloud)},
                )
            )
        if source == target:
            problems.append(Problem(SAME_CLOUD, where, f"links {source.short} to itself", {"cloud": str(source)}))
        if outside or source == target:
            continue
        link = DeclaredLink(source, target, entry.between is None, where, entry.description or "")
        first = seen.get(link.pair)
        if first is not None:
            problems.append(
                Problem(
                    DUPLICATE_LINK,
                    where,
                    f"{source.short} and {target.short} are already declared at {first.where}",
                    {"first": {"path": first.where.path, "line": first.where.line}},
                )
            )
            continue
        seen[link.pair] = link
        links.append(link)
    if problems:
        raise refusal(problems)
    name = document.metadata.name if document.metadata and document.metadata.name else ""
    return Topology(scope, tuple(links), name)


def scope_of(parsed: ParsedDocument) -> Scope:
    """The document's scope, which says what to read before its clouds can be resolved."""
    return Scope(
        frozenset(s.strip().lower() for s in parsed.document.scope.subscriptions),
        frozenset(_group(text) for text in parsed.document.scope.resource_groups),
    )


def _group(text: str) -> tuple[str, str]:
    parts = text.strip().rstrip("/").split("/")  # the schema's pattern holds the shape
    return parts[2].lower(), parts[4].lower()


class _Known:
    """The clouds short names resolve among, indexed once: a document names hundreds of them."""

    def __init__(self, clouds: list[CloudId]) -> None:
        self.clouds = clouds
        self.ids = {c: c for c in clouds}
        self.short: dict[str, list[CloudId]] = {}
        for cloud in clouds:
            self.short.setdefault(cloud.short.lower(), []).append(cloud)
            self.short.setdefault(cloud.name.lower(), []).append(cloud)


def _cloud(where: Where, ref: str, known: _Known, group: str, problems: list[Problem]) -> CloudId | None:
    """The cloud `ref` names, or None with the problem recorded. What the index finds once is taken; anything
    else is left to chat's resolver, which words why and finds close matches."""
    ref = ref.strip()
    if group and "/" not in ref:
        ref = f"{group}/{ref}"
    if not ref.startswith("/"):
        matches = known.short.get(ref.lower(), [])
        if len(matches) == 1:
            return matches[0]
    if ref.startswith("/"):
        try:
            cloud = parse_cloud_id(ref, field_name="the reference")
        except ValidationError as exc:  # INVALID_ID, saying which part is wrong (never repeating the input)
            problems.append(Problem(INVALID, where, exc.message, {"reason": exc.code}))
            return None
        return known.ids.get(cloud, cloud)
    found = resolve_cloud(ref, known.clouds)
    if not isinstance(found, Unresolved):
        return found.cloud
    shown = ref if len(ref) <= 120 else ref[:120] + "…"
    listed = [str(c) for c in found.candidates]
    if found.why == "ambiguous":
        problems.append(
            Problem(
                AMBIGUOUS_CLOUD,
                where,
                f"'{shown}' names {len(listed)} private clouds; write resource-group/name or the full ARM id: "
                + ", ".join(c.short for c in found.candidates[:MAX_LISTED]),
                {"candidates": listed},
            )
        )
    elif found.why == "unknown":
        close = f"; did you mean {', '.join(c.short for c in found.candidates[:MAX_LISTED])}?" if listed else ""
        problems.append(
            Problem(
                UNKNOWN_CLOUD,
                where,
                f"no private cloud read is named '{shown}'{close}",
                {"candidates": listed},
            )
        )
    else:
        problems.append(Problem(INVALID, where, f"'{shown}' cannot name a private cloud"))
    return None
