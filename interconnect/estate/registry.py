"""The registry of topologies: the documents applied, one per scope, which every audit compares with the estate.

`POST /api/topology/apply` registers the document it applied (also when there was nothing to change), so the
next audit reports drift from it: links in its scope that it does not declare, and declared links that are
missing (interconnect/audit/drift.py). One document is registered per scope identity (its subscriptions and
resource groups, compared as ARM compares them, in any order): applying another document for the same scope
replaces the one before, and the registry keeps who registered it and when.

Only a document that parses is stored (`registration` reads it again with parse_document before an adapter
writes anything), so storage never holds bytes from outside that were not validated, and the audit can always
read back what it stored; whether it still *resolves* (its clouds may have been deleted since) is the audit's
question (TOPOLOGY_UNRESOLVABLE), not the registry's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from interconnect.errors import ValidationError
from interconnect.estate.document import ParsedDocument, parse_document
from interconnect.estate.topology import Scope, scope_of
from interconnect.linking.model import Requester

SCOPE_MISMATCH = "TOPOLOGY_SCOPE_MISMATCH"
MAX_FINGERPRINT = 100  # `v1:` and a SHA-256 in hex is 67 characters


def scope_identity(scope: Scope) -> str:
    """The scope as one canonical text: what makes two documents the same registration."""
    subscriptions = ",".join(sorted(scope.subscriptions))
    groups = ",".join(f"{s}/{g}" for s, g in sorted(scope.resource_groups))
    return f"subscriptions={subscriptions};resourceGroups={groups}"


def scope_key(scope: Scope) -> str:
    """The scope identity as a short key any store can hold (hex SHA-256: no `/`, bounded length)."""
    return hashlib.sha256(scope_identity(scope).encode()).hexdigest()


def describe_scope(scope: Scope) -> str:
    """The scope in words, for a document without `metadata.name`."""
    parts = [f"subscription {s}" for s in sorted(scope.subscriptions)]
    parts += [f"resource group {s}/{g}" for s, g in sorted(scope.resource_groups)]
    return ", ".join(parts)


@dataclass(frozen=True)
class RegisteredTopology:
    """A document registered for drift: its validated bytes, its scope, and who registered it when."""

    document: bytes
    scope: Scope
    name: str  # metadata.name, or "" when the document has none
    registered_by: Requester
    registered_at: datetime
    fingerprint: str | None = None  # the plan's fingerprint when it was applied

    @property
    def key(self) -> str:
        return scope_key(self.scope)

    @property
    def label(self) -> str:
        """How findings name the document: `'weu-prod'`, or its scope when it has no name."""
        return f"topology '{self.name}'" if self.name else f"the topology of {describe_scope(self.scope)}"

    def parsed(self) -> ParsedDocument:
        """The document read again (it parsed when it was registered; this version's reader may refuse it).

        Raises TooLargeError or ValidationError (TOPOLOGY_INVALID) as parse_document does."""
        return parse_document(self.document)


def registration(
    document: bytes,
    scope: Scope,
    *,
    by: Requester,
    at: datetime,
    fingerprint: str | None = None,
) -> RegisteredTopology:
    """What an adapter stores for `register`: the document read again and held to `scope`.

    Raises
    ------
    TooLargeError, ValidationError
        As parse_document does for bytes that are no topology document; TOPOLOGY_SCOPE_MISMATCH when `scope` is
        not the document's own; INVALID_FINGERPRINT for a fingerprint that cannot be a plan's.
    """
    parsed = parse_document(bytes(document))
    own = scope_of(parsed)
    if own != scope:
        raise ValidationError(
            f"the scope registered ({describe_scope(scope) or 'nothing'}) is not the document's own "
            f"({describe_scope(own) or 'nothing'})",
            code=SCOPE_MISMATCH,
        )
    if fingerprint is not None and (len(fingerprint) > MAX_FINGERPRINT or not fingerprint.isprintable()):
        raise ValidationError("the fingerprint is not a plan's fingerprint", code="INVALID_FINGERPRINT")
    metadata = parsed.document.metadata
    return RegisteredTopology(bytes(document), own, (metadata.name or "") if metadata else "", by, at, fingerprint)


class TopologyRegistry(Protocol):
    """The registered topologies (adapters: interconnect/adapters/topology_tables.py, memory.py)."""

    def register(self, document: bytes, scope: Scope, *, by: Requester, fingerprint: str | None = None) -> None:
        """Register `document` (bytes parse_document accepted) for `scope` (scope_of of it), replacing any
        document registered for the same scope. Raises as `registration` does, before anything is written;
        DependencyError when the store cannot be reached."""

    def registered(self) -> list[RegisteredTopology]:
        """Every registered document, in no set order. One that cannot be read back is logged and left out."""
