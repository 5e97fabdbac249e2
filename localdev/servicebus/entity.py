"""One Service Bus entity, a queue or its dead-letter sub-queue: messages, locks, sessions and their deadlines.

It knows nothing of AMQP or proton and never reads a clock: the broker passes `now` (epoch seconds) into every
call and asks `next_deadline()` when to call `tick()` next. That keeps all of Service Bus's rules (lock expiry,
delivery counts, dead-lettering, scheduling, duplicate detection, exclusive session locks) in one place that
runs on the reactor thread only and can be exercised without a network.
"""

from __future__ import annotations

import heapq
import itertools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from .codec import Envelope
from .config import QueueConfig
from .errors import MessageLockLost, MessageNotFound, NotAllowed, SessionCannotBeLocked, SessionLockLost

MAX_DELIVERY_COUNT_EXCEEDED = "MaxDeliveryCountExceeded"
TTL_EXPIRED = "TTLExpiredException"


class MessageState(IntEnum):
    """The values the SDK exposes as `ServiceBusReceivedMessage.state`."""

    ACTIVE = 0
    DEFERRED = 1
    SCHEDULED = 2


@dataclass(eq=False)
class MessageLock:
    token: uuid.UUID
    message: StoredMessage
    locked_until: float
    # Set for messages of a session: they are held by the session lock, not by a lock of their own.
    session_id: str | None = None


@dataclass(eq=False)
class StoredMessage:
    sequence_number: int
    envelope: Envelope
    enqueued_at: float
    state: MessageState
    scheduled_at: float | None = None
    expires_at: float | None = None
    delivery_count: int = 0
    lock: MessageLock | None = None
    dead_letter_reason: str | None = None
    dead_letter_description: str | None = None
    # Position in the entity's FIFO; abandoned messages go back to where they were.
    position: int = 0

    @property
    def session_id(self) -> str | None:
        return self.envelope.session_id


@dataclass(eq=False)
class SessionRecord:
    session_id: str
    owner: object | None = None
    locked_until: float = 0.0
    state: bytes | None = None


@dataclass(frozen=True)
class LostSession:
    """A session lock that expired; the broker detaches the owner's link."""

    session_id: str
    owner: object


@dataclass
class EntityStats:
    active: int = 0
    locked: int = 0
    deferred: int = 0
    scheduled: int = 0
    sessions_locked: int = 0


class Entity:
    """Messages of one queue or dead-letter queue. Not thread-safe: call it from the reactor thread only."""

    def __init__(self, name: str, config: QueueConfig, dead_letter_queue: Entity | None = None) -> None:
        self.name = name
        self.config = config
        # None for a dead-letter queue: Service Bus never dead-letters out of one.
        self.dead_letter_queue = dead_letter_queue
        self.sessionful = config.requires_session and dead_letter_queue is not None
        self._sequence = itertools.count(1)
        self._position = itertools.count(1)
        self._messages: dict[int, StoredMessage] = {}
        # Ready messages per session (key None when the entity has no sessions), as (position, seq) heaps.
        # Entries go stale when a message leaves the ready state; they are skipped when popped.
        self._ready: dict[str | None, list[tuple[int, int]]] = {}
        self._locks: dict[uuid.UUID, MessageLock] = {}
        self._sessions: dict[str, SessionRecord] = {}
        self._history: dict[str, tuple[float, int]] = {}  # message-id -> (first seen, sequence number)
        self._timers: list[tuple[float, int, str, object]] = []
        self._timer_order = itertools.count()

    # -- sending ------------------------------------------------------------------------------------------

    def enqueue(self, envelope: Envelope, now: float) -> tuple[int, bool]:
        """Store a sent or scheduled message; returns (sequence number, stored). A duplicate message id inside
        the detection window is dropped, as Service Bus does, and the first message's number returned."""
        self.check_sendable(envelope)
        duplicate = self._seen(envelope.message_id, now)
        if duplicate is not None:
            return duplicate, False
        message = StoredMessage(next(self._sequence), envelope, enqueued_at=now, state=MessageState.SCHEDULED)
        self._messages[message.sequence_number] = message
        if self.config.requires_duplicate_detection and envelope.message_id is not None:
            self._history[envelope.message_id] = (now, message.sequence_number)
        scheduled_ms = envelope.scheduled_enqueue_ms
        if scheduled_ms is not None and scheduled_ms / 1000 > now:
            message.scheduled_at = scheduled_ms / 1000
            self._add_timer(message.scheduled_at, "scheduled", message.sequence_number)
        else:
            self._activate(message, now)
        return message.sequence_number, True

    def check_sendable(self, envelope: Envelope) -> None:
        """Refuse what Service Bus refuses, so a batch can be checked whole before any of it is stored."""
        if self.dead_letter_queue is None:
            raise NotAllowed(f"Messages cannot be sent to the dead-letter queue '{self.name}'.")
        if self.sessionful and envelope.session_id is None:
            raise NotAllowed(
                f"The SessionId was not set on a message, and it cannot be sent to the entity '{self.name}'. "
                "Entities that have session support enabled can only receive messages that have the SessionId "
                "set to a valid value."
            )

    def _seen(self, message_id: str | None, now: float) -> int | None:
        if not self.config.requires_duplicate_detection or message_id is None:
            return None
        window = self.config.duplicate_detection_window
        # The history is in first-seen order, so expired entries are all at the front.
        while self._history:
            oldest = next(iter(self._history))
            if self._history[oldest][0] + window > now:
                break
            del self._history[oldest]
        entry = self._history.get(message_id)
        return entry[1] if entry else None

    def cancel_scheduled(self, sequence_numbers: Iterable[int]) -> None:
        """Drop scheduled messages; numbers of messages already enqueued (or unknown) are ignored."""
        for number in sequence_numbers:
            message = self._messages.get(number)
            if message is not None and message.state == MessageState.SCHEDULED:
                del self._messages[number]

    def _activate(self, message: StoredMessage, at: float) -> None:
        message.state = MessageState.ACTIVE
        message.enqueued_at = at
        message.position = next(self._position)
        # The message's own time to live, capped by the queue's default (both optional).
        ttls = [t for t in ((message.envelope.ttl_ms or 0) / 1000, self.config.default_message_ttl) if t]
        if ttls:
            message.expires_at = at + min(ttls)
            self._add_timer(message.expires_at, "expiry", message.sequence_number)
        self._make_ready(message)

    def _make_ready(self, message: StoredMessage) -> None:
        lane = message.session_id if self.sessionful else None
        heapq.heappush(self._ready.setdefault(lane, []), (message.position, message.sequence_number))

    def accept_dead_lettered(self, message: StoredMessage) -> None:
        """Take a message dead-lettered by the parent queue; it keeps its sequence number and enqueued time."""
        message.lock = None
        message.state = MessageState.ACTIVE
        message.expires_at = None  # Service Bus does not expire messages in a dead-letter queue.
        message.position = next(self._position)
        self._messages[message.sequence_number] = message
        self._make_ready(message)

    # -- receiving ----------------------------------------------------------------------------------------

    @staticmethod
    def _is_ready(message: StoredMessage) -> bool:
        return message.state == MessageState.ACTIVE and message.lock is None

    def has_ready(self, session_id: str | None, now: float) -> bool:
        heap = self._ready.get(session_id)
        while heap:
            message = self._messages.get(heap[0][1])
            if message is not None and self._is_ready(message):
                if message.expires_at is not None and message.expires_at <= now:
                    heapq.heappop(heap)
                    self._expire(message)
                    continue
                return True
            heapq.heappop(heap)
        return False

    def acquire(self, session_id: str | None, now: float, *, lock: bool) -> StoredMessage | None:
        """The next ready message of the session (None: the whole queue), locked for a peek-lock receiver or
        removed for receive-and-delete."""
        if not self.has_ready(session_id, now):
            return None
        _, number = heapq.heappop(self._ready[session_id])
        message = self._messages[number]
        if lock:
            self._lock(message, now)
        else:
            del self._messages[number]
        return message

    def _lock(self, message: StoredMessage, now: float) -> MessageLock:
        session = self._sessions.get(message.session_id) if self.sessionful and message.session_id else None
        if session is not None and session.owner is not None:
            held = MessageLock(uuid.uuid4(), message, session.locked_until, session.session_id)
        else:
            held = MessageLock(uuid.uuid4(), message, now + self.config.lock_duration)
            self._add_timer(held.locked_until, "lock", held.token)
        message.lock = held
        self._locks[held.token] = held
        return held

    def receive_deferred(self, sequence_numbers: Iterable[int], now: float, *, lock: bool) -> list[StoredMessage]:
        numbers = list(sequence_numbers)
        for number in numbers:
            message = self._messages.get(number)
            if message is None or message.state != MessageState.DEFERRED or message.lock is not None:
                raise MessageNotFound(
                    f"No deferred message with sequence number {number} is available in '{self.name}'."
                )
        found = [self._messages[n] for n in numbers]
        for message in found:
            if lock:
                self._lock(message, now)
            else:
                del self._messages[message.sequence_number]
        return found

    def peek(self, from_sequence_number: int, count: int, *, session_id: str | None = None) -> list[StoredMessage]:
        """Active (locked or not), deferred and scheduled messages in sequence-number order, as Service Bus
        browses them; only those of `session_id` when it is given."""
        numbers = sorted(
            n
            for n, m in self._messages.items()
            if n >= from_sequence_number and (session_id is None or m.session_id == session_id)
        )
        return [self._messages[n] for n in numbers[: max(count, 0)]]

    # -- settling -----------------------------------------------------------------------------------------

    def _lock_lost(self) -> MessageLockLost:
        return MessageLockLost(
            "The lock supplied is invalid. Either the lock expired, or the message has already been removed "
            f"from the queue '{self.name}'."
        )

    def _release_lock(self, token: uuid.UUID) -> StoredMessage:
        held = self._locks.pop(token, None)
        if held is None:
            raise self._lock_lost()
        held.message.lock = None
        return held.message

    def complete(self, token: uuid.UUID) -> None:
        del self._messages[self._release_lock(token).sequence_number]

    def abandon(self, token: uuid.UUID, *, count_delivery: bool = True) -> None:
        """Make the message available again: `count_delivery` False is AMQP `released` (never processed)."""
        message = self._release_lock(token)
        if count_delivery:
            message.delivery_count += 1
        self._return(message)

    def defer(self, token: uuid.UUID) -> None:
        message = self._release_lock(token)
        message.state = MessageState.DEFERRED

    def dead_letter(self, token: uuid.UUID, reason: str | None, description: str | None) -> None:
        if self.dead_letter_queue is None:
            raise NotAllowed(f"Cannot dead-letter a message of the dead-letter queue '{self.name}'.")
        self._move_to_dead_letter(self._release_lock(token), reason, description)

    def renew_lock(self, token: uuid.UUID, now: float) -> float:
        held = self._locks.get(token)
        if held is None:
            raise self._lock_lost()
        if held.session_id is not None:
            raise NotAllowed("Messages of a session are locked by the session; renew the session lock instead.")
        held.locked_until = now + self.config.lock_duration
        self._add_timer(held.locked_until, "lock", token)
        return held.locked_until

    def expire_locks(self) -> int:
        """Let every message lock run out now (the admin test hook): each counts as a failed delivery, exactly
        as when the lock duration passes. Messages held by a session lock are left alone."""
        tokens = [token for token, held in self._locks.items() if held.session_id is None]
        for token in tokens:
            self.abandon(token)
        return len(tokens)

    def _return(self, message: StoredMessage) -> None:
        if self.dead_letter_queue is not None and message.delivery_count >= self.config.max_delivery_count:
            self._move_to_dead_letter(
                message,
                MAX_DELIVERY_COUNT_EXCEEDED,
                f"Message could not be consumed after {self.config.max_delivery_count} delivery attempts.",
            )
        elif message.state == MessageState.ACTIVE:
            self._make_ready(message)

    def _move_to_dead_letter(self, message: StoredMessage, reason: str | None, description: str | None) -> None:
        assert self.dead_letter_queue is not None
        del self._messages[message.sequence_number]
        message.dead_letter_reason = reason
        message.dead_letter_description = description
        self.dead_letter_queue.accept_dead_lettered(message)

    def _expire(self, message: StoredMessage) -> None:
        if self.config.dead_lettering_on_message_expiration and self.dead_letter_queue is not None:
            self._move_to_dead_letter(message, TTL_EXPIRED, "The message expired and was dead lettered.")
        else:
            del self._messages[message.sequence_number]

    # -- sessions -----------------------------------------------------------------------------------------

    def lock_session(self, session_id: str | None, owner: object, now: float) -> str | None:
        """Lock `session_id` for `owner`, or with None the next session that has ready messages and no owner.
        Returns the session locked, or None when no session is available."""
        if session_id is None:
            session_id = self._next_available_session(now)
            if session_id is None:
                return None
        record = self._sessions.setdefault(session_id, SessionRecord(session_id))
        if record.owner is not None and record.owner is not owner:
            raise SessionCannotBeLocked(
                f"The requested session '{session_id}' cannot be accepted. It may be locked by another receiver."
            )
        record.owner = owner
        self._extend_session(record, now)
        return session_id

    def _next_available_session(self, now: float) -> str | None:
        candidates = []
        for session_id, heap in self._ready.items():
            record = self._sessions.get(session_id) if session_id is not None else None
            if session_id is None or (record is not None and record.owner is not None):
                continue
            if self.has_ready(session_id, now):
                candidates.append((heap[0][0], session_id))
        return min(candidates)[1] if candidates else None

    def _extend_session(self, record: SessionRecord, now: float) -> None:
        record.locked_until = now + self.config.lock_duration
        self._add_timer(record.locked_until, "session", record.session_id)
        for held in self._locks.values():
            if held.session_id == record.session_id:
                held.locked_until = record.locked_until

    def require_session_lock(self, session_id: str, owner: object) -> None:
        self._owned_session(session_id, owner)

    def _owned_session(self, session_id: str, owner: object) -> SessionRecord:
        record = self._sessions.get(session_id)
        if record is None or record.owner is not owner:
            raise SessionLockLost(
                f"The session lock has expired on the MessageSession '{session_id}'. Accept a new MessageSession."
            )
        return record

    def renew_session_lock(self, session_id: str, owner: object, now: float) -> float:
        record = self._owned_session(session_id, owner)
        self._extend_session(record, now)
        return record.locked_until

    def session_locked_until(self, session_id: str) -> float:
        record = self._sessions.get(session_id)
        return record.locked_until if record else 0.0

    def session_owner(self, session_id: str) -> object | None:
        record = self._sessions.get(session_id)
        return record.owner if record else None

    def get_session_state(self, session_id: str, owner: object) -> bytes | None:
        return self._owned_session(session_id, owner).state

    def set_session_state(self, session_id: str, owner: object, state: bytes | None) -> None:
        self._owned_session(session_id, owner).state = state

    def release_session(self, session_id: str, owner: object) -> None:
        """End `owner`'s lock on the session (its link closed or the lock expired). Messages it still held
        count as a failed delivery, as when a message lock is lost."""
        record = self._sessions.get(session_id)
        if record is None or record.owner is not owner:
            return
        record.owner = None
        for token in [t for t, held in self._locks.items() if held.session_id == session_id]:
            self.abandon(token)

    # -- time ---------------------------------------------------------------------------------------------

    def _add_timer(self, deadline: float, kind: str, key: object) -> None:
        heapq.heappush(self._timers, (deadline, next(self._timer_order), kind, key))

    def next_deadline(self) -> float | None:
        """When `tick` next has work; possibly earlier (a renewed lock leaves its old deadline behind)."""
        return self._timers[0][0] if self._timers else None

    def tick(self, now: float) -> list[LostSession]:
        """Apply every deadline up to `now`: lock expiry, scheduled enqueue, message expiry, session expiry."""
        lost: list[LostSession] = []
        while self._timers and self._timers[0][0] <= now:
            _, _, kind, key = heapq.heappop(self._timers)
            if kind == "lock":
                held = self._locks.get(key)  # type: ignore[arg-type]
                if held is not None and held.session_id is None and held.locked_until <= now:
                    self.abandon(held.token)
            elif kind == "scheduled":
                message = self._messages.get(key)  # type: ignore[arg-type]
                if message is not None and message.state == MessageState.SCHEDULED:
                    self._activate(message, message.scheduled_at or now)
            elif kind == "expiry":
                message = self._messages.get(key)  # type: ignore[arg-type]
                # A locked message expires once its lock is gone; `has_ready` catches it then.
                if (
                    message is not None
                    and self._is_ready(message)
                    and message.expires_at is not None
                    and message.expires_at <= now
                ):
                    self._expire(message)
            elif kind == "session":
                record = self._sessions.get(key)  # type: ignore[arg-type]
                if record is not None and record.owner is not None and record.locked_until <= now:
                    lost.append(LostSession(record.session_id, record.owner))
                    self.release_session(record.session_id, record.owner)
        return lost

    # -- inspection ---------------------------------------------------------------------------------------

    def stats(self) -> EntityStats:
        stats = EntityStats(sessions_locked=sum(1 for r in self._sessions.values() if r.owner is not None))
        for message in self._messages.values():
            if message.state == MessageState.ACTIVE:
                stats.active += 1
                stats.locked += message.lock is not None
            elif message.state == MessageState.DEFERRED:
                stats.deferred += 1
                stats.locked += message.lock is not None
            else:
                stats.scheduled += 1
        return stats

    def purge(self) -> None:
        """Drop every message, lock, session state and duplicate-detection entry. Session locks held by open
        links stay, since the links are still attached; sequence numbers keep counting up."""
        self._messages.clear()
        self._ready.clear()
        self._locks.clear()
        self._history.clear()
        self._timers.clear()
        for session_id, record in list(self._sessions.items()):
            if record.owner is None:
                del self._sessions[session_id]
            else:
                record.state = None
                self._add_timer(record.locked_until, "session", session_id)


@dataclass
class QueueEntities:
    """A configured queue and its dead-letter sub-queue."""

    config: QueueConfig
    queue: Entity = field(init=False)
    dead_letter: Entity = field(init=False)

    def __post_init__(self) -> None:
        self.dead_letter = Entity(f"{self.config.name}/$DeadLetterQueue", self.config)
        self.queue = Entity(self.config.name, self.config, dead_letter_queue=self.dead_letter)
