"""The port links as code keeps its change sets behind (the drift registry's is in registry.py)."""

from __future__ import annotations

from typing import Protocol

from interconnect.estate.changeset import ChangeSet


class ChangeSetStore(Protocol):
    """Change set rows, each written under its ETag."""

    def create(self, changeset: ChangeSet) -> ChangeSet:
        """Insert a new change set. Raises ConflictError (ALREADY_EXISTS) if its id exists."""

    def get(self, changeset_id: str) -> ChangeSet:
        """Raises NotFoundError (CHANGESET_NOT_FOUND), or CorruptRecordError for a row that cannot be read."""

    def unfinished(self) -> list[ChangeSet]:
        """Every change set still InProgress (the drift audit leaves the pairs they are about to move alone). One
        that cannot be read back is logged and left out."""

    def save(self, changeset: ChangeSet) -> ChangeSet:
        """Write `changeset` only if the stored row still has `changeset.etag`; returns it with its new ETag.
        Raises ConflictError when another writer got there first."""
