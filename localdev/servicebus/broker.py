"""The AMQP side of the stand-in: a proton reactor handler that speaks to the unmodified `azure-servicebus` SDK.

Everything runs on the reactor thread. Other threads (the admin HTTP server) and signal handlers reach the
broker only through `LoopWaker`, a pipe the reactor watches. Timers (lock expiry, scheduled messages, session
lock expiry, waiting session receivers) are one reactor task armed for the earliest deadline of all.

Where proton and the SDK disagree, the broker bends (see docs/servicebus-wire.md §3):
it writes its own header with delivery-count, puts an `info` map on every error condition so the SDK can index
it, echoes every settlement with the same outcome, uses the 16-byte lock token as delivery tag, and gives
session receivers the `com.microsoft:locked-until-utc` link property and the chosen session in the filter.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from proton import Condition, Connection, Delivery, Endpoint, Handler, Link, Message, Terminus, int32, symbol
from proton.reactor import Container

from . import codec, management
from .delivery import DEAD_LETTER_DESCRIPTION, DEAD_LETTER_REASON, encode_stored
from .entity import Entity
from .errors import BrokerError, MessageLockLost, MessageSizeExceeded, NotAllowed, OperationTimeout, SessionLockLost
from .namespace import Namespace, parse_address

log = logging.getLogger("localdev.servicebus")

CBS_NODE = "$cbs"
SESSION_FILTER = symbol("com.microsoft:session-filter")
LOCKED_UNTIL_UTC = symbol("com.microsoft:locked-until-utc")
SERVER_TIMEOUT = symbol("com.microsoft:timeout")
TRACKING_ID = symbol("com.microsoft:tracking-id")
# .NET ticks (100 ns since 0001-01-01) at the Unix epoch: the unit of com.microsoft:locked-until-utc.
DOTNET_EPOCH_TICKS = 621355968000000000
# How long a NEXT_AVAILABLE_SESSION receiver waits for a session when the SDK sends no timeout (as the service).
DEFAULT_SESSION_WAIT = 60.0
# Credit granted to every sending client; refilled when half is used.
INCOMING_CREDIT = 200
# On shutdown, how long clients get to answer our close before the reactor stops regardless.
SHUTDOWN_GRACE = 1.0

T = TypeVar("T")


def _guarded(method: Callable[..., None]) -> Callable[..., None]:
    """Log a failing event handler instead of letting proton record it silently and stop at exit."""

    @functools.wraps(method)
    def run(self: Broker, event: Any) -> None:
        try:
            method(self, event)
        except Exception:
            log.exception("error while handling %s", method.__name__)

    return run


@dataclass(eq=False)
class Consumer:
    """A client's receiver: a broker-side sending link on an entity."""

    link: Link
    entity: Entity
    receive_and_delete: bool
    # For session receivers: the session held, once one is.
    session_id: str | None = None
    # For NEXT_AVAILABLE_SESSION receivers still waiting for a session.
    wait_until: float | None = None


class _Callback(Handler):
    def __init__(self, callback: Callable[[], None]) -> None:
        super().__init__()
        self._callback = callback

    def on_timer_task(self, _event: Any) -> None:
        self._callback()


class LoopWaker:
    """Hands work to the reactor thread from other threads and from signal handlers.

    Only a lock-free deque and a pipe write are used on the caller's side: a signal handler interrupts the
    main thread anywhere, even inside a lock the reactor holds, so it must not take one. For the same reason the
    pipe is never closed before the process exits: a late signal or admin call must not write into a file
    descriptor that has since been reused.
    """

    def __init__(self) -> None:
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._calls: collections.deque[tuple[Callable[[], Any], Future[Any]]] = collections.deque()
        self._on_shutdown: Callable[[], None] | None = None
        self._shutdown_requested = False
        self._selectable: Any = None
        self._stopped = False
        # proton's IO handler also sees this selectable's events and looks for a transport on it.
        self._transport = None

    def fileno(self) -> int:
        return self._read_fd

    def attach(self, container: Container, on_shutdown: Callable[[], None]) -> None:
        self._on_shutdown = on_shutdown
        self._selectable = container.selectable(handler=self)  # type: ignore[arg-type]

    def on_selectable_init(self, event: Any) -> None:
        selectable = event.context
        selectable.reading = True
        selectable.update()

    def on_selectable_readable(self, _event: Any) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read_fd, 4096):
                pass
        while self._calls:
            call, future = self._calls.popleft()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except Exception as exc:
                    future.set_exception(exc)
        if self._shutdown_requested and self._on_shutdown is not None:
            self._on_shutdown()

    def _wake(self) -> None:
        # A full pipe means the reactor is already due to wake.
        with contextlib.suppress(BlockingIOError):
            os.write(self._write_fd, b"!")

    def call(self, function: Callable[[], T], timeout: float = 10.0) -> T:
        """Run `function` on the reactor thread and return its result (or raise its exception)."""
        if self._stopped or self._shutdown_requested:
            raise RuntimeError("the broker is shutting down")
        future: Future[T] = Future()
        self._calls.append((function, future))
        self._wake()
        return future.result(timeout)

    def request_shutdown(self) -> None:
        """Safe from a signal handler."""
        self._shutdown_requested = True
        self._wake()

    def detach(self) -> None:
        """Stop watching the pipe, so that the reactor can finish."""
        self._stopped = True
        if self._selectable is not None:
            self._selectable.terminate()
            self._selectable.update()
            self._selectable = None

    def close(self) -> None:
        """Called by proton once the selectable is gone; the pipe itself stays open (see the class doc)."""
        self._stopped = True


class Broker(Handler):
    """Serves one namespace to any number of SDK connections."""

    def __init__(self, namespace: Namespace) -> None:
        super().__init__()
        self.namespace = namespace
        self.waker = LoopWaker()
        self._container: Container | None = None
        self._acceptor: Any = None
        self._consumers: dict[Link, Consumer] = {}
        self._by_entity: dict[Entity, list[Consumer]] = collections.defaultdict(list)
        self._producers: dict[Link, Entity] = {}
        self._management_nodes: dict[Link, Entity] = {}
        self._cbs_nodes: set[Link] = set()
        # Per connection, the links replies go out on, by the address the client listens at.
        self._reply_links: dict[Connection, dict[str, Link]] = collections.defaultdict(dict)
        self._connections: set[Connection] = set()
        self._alarm: Any = None
        self._alarm_at: float | None = None
        self._stopping = False

    # -- lifecycle ----------------------------------------------------------------------------------------

    def run(self, host: str, port: int) -> None:
        """Serve until `shutdown` (which `waker.request_shutdown()` triggers from any thread or signal)."""
        container = Container(self)
        self._container = container
        self._acceptor = container.listen(f"{host}:{port}")
        self.waker.attach(container, self.shutdown)
        log.info(
            "listening on %s:%d with queues %s", host, port, ", ".join(q.config.name for q in self.namespace.queues)
        )
        container.run()
        log.info("stopped")

    def shutdown(self) -> None:
        """Close the listener and every connection; stop once clients answered or after a short grace."""
        if self._stopping or self._container is None:
            return
        self._stopping = True
        log.info("shutting down: closing %d connection(s)", len(self._connections))
        self._acceptor.close()
        self._cancel_alarm()
        self.waker.detach()
        for connection in list(self._connections):
            connection.close()
        if self._connections:
            self._container.schedule(SHUTDOWN_GRACE, _Callback(self._container.stop))
        else:
            self._container.stop()

    # -- connections, sessions --------------------------------------------------------------------------

    @_guarded
    def on_connection_bound(self, event: Any) -> None:
        # The SDK authenticates with a CBS token after SASL ANONYMOUS; no other mechanism is offered.
        sasl = event.transport.sasl()
        sasl.allowed_mechs("ANONYMOUS")
        self._connections.add(event.connection)

    @_guarded
    def on_connection_remote_open(self, event: Any) -> None:
        connection = event.connection
        if connection.state & Endpoint.LOCAL_UNINIT:
            connection.container = "localdev-servicebus"
            connection.open()

    @_guarded
    def on_session_remote_open(self, event: Any) -> None:
        if event.session.state & Endpoint.LOCAL_UNINIT:
            event.session.open()

    @_guarded
    def on_session_remote_close(self, event: Any) -> None:
        session = event.session
        for link in self._links_where(lambda link: link.session == session):
            self._forget(link)
        session.close()

    @_guarded
    def on_connection_remote_close(self, event: Any) -> None:
        self._forget_connection(event.connection)
        event.connection.close()

    @_guarded
    def on_transport_closed(self, event: Any) -> None:
        connection = event.connection
        if connection is not None:
            self._forget_connection(connection)
            self._connections.discard(connection)
        if self._stopping and not self._connections and self._container is not None:
            self._container.stop()

    def _forget_connection(self, connection: Connection) -> None:
        for link in self._links_where(lambda link: link.connection == connection):
            self._forget(link)
        self._reply_links.pop(connection, None)

    def _links_where(self, predicate: Callable[[Link], bool]) -> list[Link]:
        links = [*self._consumers, *self._producers, *self._management_nodes, *self._cbs_nodes]
        links += [link for replies in self._reply_links.values() for link in replies.values()]
        return [link for link in links if predicate(link)]

    # -- attaching links ------------------------------------------------------------------------------------

    @_guarded
    def on_link_remote_open(self, event: Any) -> None:
        link = event.link
        if not link.state & Endpoint.LOCAL_UNINIT:
            return
        try:
            if link.is_sender:
                self._attach_outgoing(link)
            else:
                self._attach_incoming(link)
        except BrokerError as error:
            log.info("refusing link %r: %s", link.name, error.description)
            self._refuse(link, error)
        self._arm()

    def _attach_outgoing(self, link: Link) -> None:
        """The client receives on this link: CBS replies, management replies or an entity's messages."""
        address = link.remote_source.address or ""
        if address == CBS_NODE:
            self._reply_links[link.connection][CBS_NODE] = link
            self._open(link)
            return
        target = parse_address(address)
        entity = self.namespace.entity(target.entity_path)
        if target.management:
            self._reply_links[link.connection][address.lower()] = link
            self._open(link)
            return
        self._attach_consumer(link, entity)

    def _attach_incoming(self, link: Link) -> None:
        """The client sends on this link: CBS requests, management requests or messages for an entity."""
        address = link.remote_target.address or ""
        if address == CBS_NODE:
            self._cbs_nodes.add(link)
        else:
            target = parse_address(address)
            entity = self.namespace.entity(target.entity_path)
            if target.management:
                self._management_nodes[link] = entity
            elif entity.dead_letter_queue is None:
                raise NotAllowed(f"Messages cannot be sent to the dead-letter queue '{entity.name}'.")
            else:
                self._producers[link] = entity
        self._open(link)
        link.flow(INCOMING_CREDIT)

    def _attach_consumer(self, link: Link, entity: Entity) -> None:
        filters = _read_filter(link)
        sessionful = SESSION_FILTER in filters
        if sessionful != entity.sessionful:
            raise NotAllowed(
                f"It is not possible for an entity that {'requires' if entity.sessionful else 'does not require'} "
                f"sessions to create a {'session' if sessionful else 'non-sessionful'} receiver ('{entity.name}')."
            )
        consumer = Consumer(link, entity, receive_and_delete=link.remote_snd_settle_mode == Link.SND_SETTLED)
        self._consumers[link] = consumer
        if not sessionful:
            self._start_consumer(consumer)
            return
        requested = filters[SESSION_FILTER]
        now = time.time()
        try:
            session_id = entity.lock_session(str(requested) if requested is not None else None, consumer, now)
        except BrokerError:
            del self._consumers[link]
            raise
        if session_id is not None:
            consumer.session_id = session_id
            self._start_consumer(consumer)
        else:
            timeout_ms = (link.remote_properties or {}).get(SERVER_TIMEOUT)
            consumer.wait_until = now + (timeout_ms / 1000 if timeout_ms else DEFAULT_SESSION_WAIT)
            self._by_entity[entity].append(consumer)

    def _start_consumer(self, consumer: Consumer) -> None:
        link = consumer.link
        consumer.wait_until = None
        if consumer.session_id is not None:
            # Without this property the SDK's attach callback fails and the receiver silently gets nothing.
            locked_until = consumer.entity.session_locked_until(consumer.session_id)
            link.properties = {LOCKED_UNTIL_UTC: DOTNET_EPOCH_TICKS + round(locked_until * 10_000_000)}
        self._open(link, consumer.session_id)
        if consumer not in self._by_entity[consumer.entity]:
            self._by_entity[consumer.entity].append(consumer)
        log.debug(
            "receiver %r on %s%s",
            link.name,
            consumer.entity.name,
            f" holds session {consumer.session_id!r}" if consumer.session_id else "",
        )

    @staticmethod
    def _open(link: Link, session_id: str | None = None) -> None:
        # The SDK drops an attach without source or target, and expects the settle modes it asked for. A session
        # receiver learns which session it got from the filter echoed in the source.
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        if session_id is not None:
            _echo_session_filter(link, session_id)
        link.snd_settle_mode = link.remote_snd_settle_mode
        link.rcv_settle_mode = link.remote_rcv_settle_mode
        link.open()

    def _refuse(self, link: Link, error: BrokerError) -> None:
        """Refuse as AMQP 1.0 prescribes (2.6.3): attach with a null terminus on our side, then detach with the
        error. The SDK reports the detach's condition, e.g. amqp:not-found as MessagingEntityNotFoundError."""
        self._forget(link)
        if link.is_sender:
            link.target.copy(link.remote_target)
            link.source.type = Terminus.UNSPECIFIED
        else:
            link.source.copy(link.remote_source)
            link.target.type = Terminus.UNSPECIFIED
        link.condition = _condition(error)
        link.open()
        link.close()

    # -- detaching links -----------------------------------------------------------------------------------

    @_guarded
    def on_link_remote_close(self, event: Any) -> None:
        link = event.link
        self._forget(link)
        if not link.state & Endpoint.LOCAL_CLOSED:
            link.close()

    def _forget(self, link: Link) -> None:
        self._producers.pop(link, None)
        self._management_nodes.pop(link, None)
        self._cbs_nodes.discard(link)
        replies = self._reply_links.get(link.connection, {})
        for address in [a for a, reply in replies.items() if reply == link]:
            del replies[address]
        consumer = self._consumers.pop(link, None)
        if consumer is None:
            return
        consumers = self._by_entity[consumer.entity]
        if consumer in consumers:
            consumers.remove(consumer)
        if consumer.session_id is not None:
            # Service Bus keeps message locks when a plain receiver detaches, but a session lock ends with it.
            consumer.entity.release_session(consumer.session_id, consumer)
            self._dispatch(consumer.entity)

    # -- transfers ----------------------------------------------------------------------------------------------

    @_guarded
    def on_link_flow(self, event: Any) -> None:
        consumer = self._consumers.get(event.link)
        if consumer is not None:
            self._dispatch(consumer.entity)

    @_guarded
    def on_delivery(self, event: Any) -> None:
        delivery = event.delivery
        link = delivery.link
        if link.is_sender:
            self._on_settlement(link, delivery)
            return
        if delivery.partial:
            return
        if delivery.aborted:
            delivery.settle()
            return
        payload = bytes(link.recv(delivery.pending) or b"")
        link.advance()
        if link.credit < INCOMING_CREDIT // 2:
            link.flow(INCOMING_CREDIT - link.credit)
        if link in self._cbs_nodes:
            self._on_cbs_request(link, delivery, payload)
        elif link in self._management_nodes:
            self._on_management_request(link, self._management_nodes[link], delivery, payload)
        elif link in self._producers:
            self._on_message(self._producers[link], delivery, payload)
        else:
            _finish(delivery, Delivery.REJECTED, NotAllowed("The link is not attached to an entity."))

    def _on_message(self, entity: Entity, delivery: Delivery, payload: bytes) -> None:
        now = time.time()
        try:
            if len(payload) > entity.config.max_message_size:
                raise MessageSizeExceeded(
                    f"The received message (size: {len(payload)} bytes) exceeds the limit "
                    f"({entity.config.max_message_size} bytes) currently allowed on the link."
                )
            envelopes = codec.parse_transfer(payload)
            for envelope in envelopes:  # a batch is all or nothing
                entity.check_sendable(envelope)
            for envelope in envelopes:
                number, stored = entity.enqueue(envelope, now)
                log.debug(
                    "%s: message %r %s as %d",
                    entity.name,
                    envelope.message_id,
                    "enqueued" if stored else "dropped as a duplicate of",
                    number,
                )
        except BrokerError as error:
            log.info("%s: send refused: %s", entity.name, error.description)
            _finish(delivery, Delivery.REJECTED, error)
            return
        _finish(delivery, Delivery.ACCEPTED)
        self._dispatch(entity)

    def _dispatch(self, entity: Entity) -> None:
        """Give ready messages to the entity's receivers that have credit, one each in turn."""
        now = time.time()
        consumers = self._by_entity.get(entity, [])
        for consumer in [c for c in consumers if c.wait_until is not None]:
            session_id = entity.lock_session(None, consumer, now)
            if session_id is not None:
                consumer.session_id = session_id
                self._start_consumer(consumer)
        # Rotate so that concurrent receivers take turns at the head of the queue.
        if len(consumers) > 1:
            consumers.append(consumers.pop(0))
        hungry = [c for c in consumers if c.wait_until is None and c.link.credit > 0]
        while hungry:
            for consumer in list(hungry):
                message = entity.acquire(consumer.session_id, now, lock=not consumer.receive_and_delete)
                if message is None:
                    hungry.remove(consumer)
                    continue
                self._deliver(consumer, message)
                if consumer.link.credit <= 0:
                    hungry.remove(consumer)
        for consumer in consumers:
            if consumer.wait_until is None and consumer.link.drain_mode:
                consumer.link.drained()
        self._arm()  # delivering took locks, which expire

    def _deliver(self, consumer: Consumer, message: Any) -> None:
        link = consumer.link
        lock = message.lock
        # The SDK reads the lock token from the delivery tag as uuid.UUID(bytes_le=tag).
        delivery = link.delivery((lock.token if lock is not None else uuid.uuid4()).bytes_le)
        link.send(encode_stored(message))
        link.advance()
        if lock is None:
            delivery.settle()
        else:
            delivery.lock_token = lock.token

    # -- settlement -------------------------------------------------------------------------------------------

    def _on_settlement(self, link: Link, delivery: Delivery) -> None:
        consumer = self._consumers.get(link)
        token = getattr(delivery, "lock_token", None)
        outcome = delivery.remote_state
        if consumer is None or token is None:
            if delivery.settled:
                delivery.settle()  # a reply the client settled
            return
        terminal = outcome in (Delivery.ACCEPTED, Delivery.REJECTED, Delivery.RELEASED, Delivery.MODIFIED)
        if not terminal and not delivery.settled:
            return
        entity = consumer.entity
        try:
            if outcome == Delivery.ACCEPTED:
                entity.complete(token)
            elif outcome == Delivery.MODIFIED and delivery.remote.undeliverable:
                entity.defer(token)
            elif outcome == Delivery.MODIFIED:
                entity.abandon(token, count_delivery=delivery.remote.failed)
            elif outcome == Delivery.REJECTED:
                info = _condition_info(delivery.remote.condition)
                entity.dead_letter(token, _text(info.get(DEAD_LETTER_REASON)), _text(info.get(DEAD_LETTER_DESCRIPTION)))
            else:  # released, or settled without an outcome: the message was never processed
                entity.abandon(token, count_delivery=False)
        except BrokerError as error:
            if isinstance(error, MessageLockLost) and consumer.session_id is not None:
                error = SessionLockLost(f"The session lock was lost for session '{consumer.session_id}'.")
            log.info("%s: settlement refused: %s", entity.name, error.description)
            if not delivery.settled:
                _finish(delivery, Delivery.REJECTED, error)
        else:
            # SDK 7.15 waits for the same outcome to come back settled before it calls a settlement done.
            if delivery.settled:
                delivery.settle()
            else:
                if outcome == Delivery.MODIFIED:
                    delivery.local.failed = delivery.remote.failed
                    delivery.local.undeliverable = delivery.remote.undeliverable
                _finish(delivery, outcome if terminal else Delivery.RELEASED)
        self._dispatch(entity)

    # -- CBS and $management ---------------------------------------------------------------------------

    def _on_cbs_request(self, link: Link, delivery: Delivery, payload: bytes) -> None:
        request = Message()
        request.decode(payload)
        _finish(delivery, Delivery.ACCEPTED)
        # Any token is accepted: the stand-in has no identities. The reply goes to the $cbs receiver of the
        # same connection, correlated by the request's message-id as the same (uuid) type.
        reply = Message(
            correlation_id=request.id, properties={"status-code": int32(202), "status-description": "Accepted"}
        )
        self._reply(link.connection, CBS_NODE, reply)

    def _on_management_request(self, link: Link, entity: Entity, delivery: Delivery, payload: bytes) -> None:
        request = Message()
        request.decode(payload)
        _finish(delivery, Delivery.ACCEPTED)
        operation = str((request.properties or {}).get("operation", ""))
        body = request.body if isinstance(request.body, dict) else {}
        connection = link.connection

        def session_owner(session_id: str) -> object:
            # Session operations are served to the receiver of this connection that holds the session.
            owner = entity.session_owner(session_id)
            if isinstance(owner, Consumer) and owner.link.connection == connection:
                return owner
            return object()

        result = management.execute(operation, entity, body, time.time(), session_owner)
        if result.error_condition is not None:
            log.info("%s: %s refused: %s", entity.name, operation, result.description)
        properties: dict[str, Any] = {"statusCode": int32(result.status_code), "statusDescription": result.description}
        if result.error_condition is not None:
            properties["errorCondition"] = symbol(result.error_condition)
        reply = Message(correlation_id=request.id, properties=properties, body=result.body)
        self._reply(connection, (request.reply_to or "").lower(), reply)
        self._dispatch(entity)

    def _reply(self, connection: Connection, address: str, reply: Message) -> None:
        link = self._reply_links.get(connection, {}).get(address)
        if link is None:
            log.warning("no reply link at %r on this connection; reply dropped", address)
            return
        reply.send(link).settle()

    # -- time ---------------------------------------------------------------------------------------------

    def _arm(self) -> None:
        """Make sure the alarm goes off at the earliest deadline of any entity or waiting session receiver."""
        if self._container is None or self._stopping:
            return
        deadlines = [c.wait_until for cs in self._by_entity.values() for c in cs if c.wait_until is not None]
        if (entity_deadline := self.namespace.next_deadline()) is not None:
            deadlines.append(entity_deadline)
        if not deadlines:
            return
        deadline = min(deadlines)
        if self._alarm is not None and self._alarm_at is not None and self._alarm_at <= deadline:
            return
        self._cancel_alarm()
        # Relative to the reactor's own clock, so the task never fires before the deadline has passed.
        self._alarm = self._container.schedule(max(0.0, deadline - self._container.now), _Callback(self._on_alarm))
        self._alarm_at = deadline

    def _cancel_alarm(self) -> None:
        if self._alarm is not None:
            self._alarm.cancel()
        self._alarm = None
        self._alarm_at = None

    def _on_alarm(self) -> None:
        self._alarm = None
        self._alarm_at = None
        try:
            self.tick(time.time())
        except Exception:
            log.exception("error while applying deadlines")
        self._arm()

    def tick(self, now: float) -> None:
        for entity, lost in self.namespace.tick(now):
            consumer = lost.owner
            if isinstance(consumer, Consumer):
                log.info("%s: session %r lock expired; detaching its receiver", entity.name, lost.session_id)
                consumer.session_id = None  # the entity already released it
                consumer.link.condition = _condition(
                    SessionLockLost(f"The session lock has expired on the MessageSession '{lost.session_id}'.")
                )
                consumer.link.close()
                self._forget(consumer.link)
        for entity, consumers in list(self._by_entity.items()):
            for consumer in [c for c in consumers if c.wait_until is not None and c.wait_until <= now]:
                log.info("%s: no session became available for receiver %r in time", entity.name, consumer.link.name)
                consumers.remove(consumer)
                self._consumers.pop(consumer.link, None)
                self._refuse(
                    consumer.link,
                    OperationTimeout(f"No session available on '{entity.name}' within the receiver's timeout."),
                )
        for entity in self.namespace.entities():
            self._dispatch(entity)

    # -- admin (called on the reactor thread through the waker) -----------------------------------------

    def reset(self) -> None:
        self.namespace.reset()
        self._cancel_alarm()
        self._arm()

    def expire_locks(self, queue: str) -> int:
        entities = self.namespace.queue(queue)
        expired = entities.queue.expire_locks() + entities.dead_letter.expire_locks()
        self._dispatch(entities.queue)
        self._dispatch(entities.dead_letter)
        return expired


def _condition(error: BrokerError) -> Condition:
    # The SDK indexes error[2] (info) unconditionally, and proton omits a null trailing field: always send info.
    return Condition(symbol(error.condition), error.description, {TRACKING_ID: str(uuid.uuid4())})


def _finish(delivery: Delivery, outcome: Any, error: BrokerError | None = None) -> None:
    if error is not None:
        delivery.local.condition = _condition(error)
    delivery.update(outcome)
    delivery.settle()


def _condition_info(condition: Condition | None) -> dict[Any, Any]:
    info = condition.info if condition is not None else None
    return dict(info) if isinstance(info, dict) else {}


def _text(value: Any) -> str | None:
    return str(value) if value is not None else None


def _read_filter(link: Link) -> dict[Any, Any]:
    # proton leaves the cursor before the first element: without rewind/next the filter reads as None.
    data = link.remote_source.filter
    data.rewind()
    if data.next() is None:
        return {}
    value = data.get_object()
    return dict(value) if isinstance(value, dict) else {}


def _echo_session_filter(link: Link, session_id: str) -> None:
    data = link.source.filter
    data.clear()
    data.put_map()
    data.enter()
    data.put_symbol(SESSION_FILTER)
    data.put_string(session_id)
    data.exit()
