"""The configured queues of the stand-in namespace, found by the addresses the SDK attaches to.

The SDK addresses entities as `amqps://<host>/<queue>`, dead-letter queues as `<queue>/$DeadLetterQueue` and the
request/response node of either with a `/$management` suffix. Service Bus entity names are case-insensitive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from .config import QueueConfig
from .entity import Entity, LostSession, QueueEntities
from .errors import EntityNotFound

DEAD_LETTER_SUFFIX = "/$deadletterqueue"
MANAGEMENT_SUFFIX = "/$management"


@dataclass(frozen=True)
class Address:
    """Where a link points: an entity, or that entity's `$management` node."""

    entity_path: str
    management: bool


def parse_address(address: str | None) -> Address:
    path = address or ""
    if "://" in path:
        path = path.split("://", 1)[1].partition("/")[2]
    path = path.strip("/")
    if path.lower().endswith(MANAGEMENT_SUFFIX):
        return Address(path[: -len(MANAGEMENT_SUFFIX)], True)
    return Address(path, False)


class Namespace:
    """All queues by name. Not thread-safe: the broker uses it from the reactor thread only."""

    def __init__(self, configs: Iterable[QueueConfig]) -> None:
        self._queues = {c.name.lower(): QueueEntities(c) for c in configs}

    @property
    def queues(self) -> list[QueueEntities]:
        return list(self._queues.values())

    def queue(self, name: str) -> QueueEntities:
        try:
            return self._queues[name.lower()]
        except KeyError:
            raise EntityNotFound(f"The messaging entity '{name}' could not be found.") from None

    def entity(self, path: str) -> Entity:
        """The queue or dead-letter queue at `path` (`name` or `name/$DeadLetterQueue`)."""
        if path.lower().endswith(DEAD_LETTER_SUFFIX):
            return self.queue(path[: -len(DEAD_LETTER_SUFFIX)]).dead_letter
        if "/" in path or not path:
            raise EntityNotFound(f"The messaging entity '{path}' could not be found.")
        return self.queue(path).queue

    def entities(self) -> list[Entity]:
        return [e for q in self._queues.values() for e in (q.queue, q.dead_letter)]

    def next_deadline(self) -> float | None:
        deadlines = [d for e in self.entities() if (d := e.next_deadline()) is not None]
        return min(deadlines) if deadlines else None

    def tick(self, now: float) -> list[tuple[Entity, LostSession]]:
        return [(entity, lost) for entity in self.entities() for lost in entity.tick(now)]

    def stats(self) -> dict[str, dict[str, int]]:
        """Per queue: active (including locked), scheduled, locked, deferred, deadLetter, sessionsLocked."""
        result = {}
        for entities in self._queues.values():
            counts = asdict(entities.queue.stats())
            result[entities.config.name] = {
                "active": counts["active"],
                "scheduled": counts["scheduled"],
                "locked": counts["locked"],
                "deferred": counts["deferred"],
                "deadLetter": entities.dead_letter.stats().active,
                "sessionsLocked": counts["sessions_locked"],
            }
        return result

    def reset(self) -> None:
        for entity in self.entities():
            entity.purge()
