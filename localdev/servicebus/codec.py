"""AMQP message bytes in and out of the broker, without proton's `Message` round trip.

Why not simply decode into `proton.Message` and send that back out:

* proton writes an empty header section when every header field is at its default, and the SDK then reads
  `delivery_count` as None. Deliveries therefore get a hand-built header with an explicit delivery-count.
* The bare message (properties, application-properties, body, footer) must reach the receiver as the sender
  wrote it; re-encoding through proton would change types and section layout. It is kept as raw bytes.
* proton's Python binding does not expose a transfer's message-format, so a Service Bus batch (format
  0x80013700, one data section per inner message) is recognised by content: every data section holds a
  complete encoded message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from proton import Data, Described, symbol, ulong

from .errors import ArgumentError

HEADER = 0x70
DELIVERY_ANNOTATIONS = 0x71
MESSAGE_ANNOTATIONS = 0x72
PROPERTIES = 0x73
APPLICATION_PROPERTIES = 0x74
DATA = 0x75
AMQP_SEQUENCE = 0x76
AMQP_VALUE = 0x77
FOOTER = 0x78

_SYMBOLIC_DESCRIPTORS = {
    "amqp:header:list": HEADER,
    "amqp:delivery-annotations:map": DELIVERY_ANNOTATIONS,
    "amqp:message-annotations:map": MESSAGE_ANNOTATIONS,
    "amqp:properties:list": PROPERTIES,
    "amqp:application-properties:map": APPLICATION_PROPERTIES,
    "amqp:data:binary": DATA,
    "amqp:amqp-sequence:list": AMQP_SEQUENCE,
    "amqp:amqp-value:*": AMQP_VALUE,
    "amqp:footer:map": FOOTER,
}
_BODY = frozenset({DATA, AMQP_SEQUENCE, AMQP_VALUE})

SCHEDULED_ENQUEUE_TIME = symbol("x-opt-scheduled-enqueue-time")


@dataclass(frozen=True)
class Section:
    code: int
    raw: bytes
    value: Any


@dataclass(frozen=True)
class Envelope:
    """One message as the broker keeps it: header fields and annotations decoded, the bare message raw."""

    durable: bool = False
    priority: int | None = None
    ttl_ms: int | None = None
    annotations: Mapping[symbol, Any] = field(default_factory=dict)
    properties: bytes = b""
    application_properties: bytes = b""
    body: bytes = b""
    message_id: str | None = None
    session_id: str | None = None

    @property
    def scheduled_enqueue_ms(self) -> int | None:
        value = self.annotations.get(SCHEDULED_ENQUEUE_TIME)
        return int(value) if value is not None else None


def _sections(encoded: bytes) -> Iterator[Section]:
    """Split an encoded message into its sections; raise ArgumentError when it is not one."""
    encoded = bytes(encoded)
    view = memoryview(encoded)
    position = 0
    data = Data()
    while position < len(encoded):
        data.clear()
        try:
            consumed = data.decode(view[position:])
        except Exception as exc:  # proton raises DataException and friends; all mean "not a message"
            raise ArgumentError(f"malformed AMQP message section at byte {position}: {exc}") from exc
        data.rewind()
        if not consumed or data.next() != Data.DESCRIBED:
            raise ArgumentError(f"expected a described message section at byte {position}")
        value = _copy(data.get_object())
        code = _section_code(value.descriptor)
        yield Section(code, encoded[position : position + consumed], value.value)
        position += consumed


def _section_code(descriptor: Any) -> int:
    if isinstance(descriptor, int) and HEADER <= descriptor <= FOOTER:
        return int(descriptor)
    if isinstance(descriptor, str) and descriptor in _SYMBOLIC_DESCRIPTORS:
        return _SYMBOLIC_DESCRIPTORS[descriptor]
    raise ArgumentError(f"unknown message section descriptor {descriptor!r}")


def _copy(value: Any) -> Any:
    """Detach decoded binaries from proton's reused buffer (a later decode would overwrite them)."""
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    if isinstance(value, Described):
        return Described(_copy(value.descriptor), _copy(value.value))
    if isinstance(value, dict):
        return {_copy(k): _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _identifier(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def parse_message(encoded: bytes) -> Envelope:
    """Decode one encoded message into an Envelope."""
    header: list[Any] = []
    annotations: dict[symbol, Any] = {}
    raw: dict[int, bytes] = {}
    properties: list[Any] = []
    body = bytearray()
    for section in _sections(encoded):
        if section.code == HEADER:
            header = list(section.value or [])
        elif section.code == MESSAGE_ANNOTATIONS:
            annotations = {symbol(k): v for k, v in (section.value or {}).items()}
        elif section.code == PROPERTIES:
            raw[PROPERTIES] = section.raw
            properties = list(section.value or [])
        elif section.code == APPLICATION_PROPERTIES:
            raw[APPLICATION_PROPERTIES] = section.raw
        elif section.code in _BODY or section.code == FOOTER:
            body += section.raw
        # Delivery annotations are hop-by-hop: they describe this transfer, not the message.
    header += [None] * (5 - len(header))
    properties += [None] * (13 - len(properties))
    return Envelope(
        durable=bool(header[0]),
        priority=header[1],
        ttl_ms=int(header[2]) if header[2] is not None else None,
        annotations=annotations,
        properties=raw.get(PROPERTIES, b""),
        application_properties=raw.get(APPLICATION_PROPERTIES, b""),
        body=bytes(body),
        message_id=_identifier(properties[0]),
        session_id=_identifier(properties[10]),
    )


def parse_transfer(encoded: bytes) -> list[Envelope]:
    """The messages in one transfer: several when it is a Service Bus batch, otherwise one."""
    sections = list(_sections(encoded))
    bodies = [s for s in sections if s.code in _BODY]
    if bodies and all(s.code == DATA and _is_encoded_message(s.value) for s in bodies):
        return [parse_message(s.value) for s in bodies]
    return [parse_message(encoded)]


def _is_encoded_message(payload: Any) -> bool:
    if not isinstance(payload, bytes) or len(payload) < 3 or payload[:2] != b"\x00\x53":
        return False
    if not HEADER <= payload[2] <= FOOTER:
        return False
    try:
        codes = [s.code for s in _sections(payload)]
    except ArgumentError:
        return False
    return codes == sorted(codes) and any(code in _BODY for code in codes)


def decode_map(raw: bytes) -> dict[Any, Any]:
    """The map inside an encoded map-valued section (application-properties)."""
    for section in _sections(raw):
        return dict(section.value or {})
    return {}


def _encode_section(code: int, value: Any) -> bytes:
    data = Data()
    data.put_described()
    data.enter()
    data.put_ulong(ulong(code))
    data.put_object(value)
    data.exit()
    return data.encode()


def _encode_header(envelope: Envelope, delivery_count: int) -> bytes:
    # Every field is written, delivery-count last and explicit, so the SDK never sees an empty header.
    data = Data()
    data.put_described()
    data.enter()
    data.put_ulong(ulong(HEADER))
    data.put_list()
    data.enter()
    data.put_bool(envelope.durable)
    if envelope.priority is None:
        data.put_null()
    else:
        data.put_ubyte(envelope.priority)
    if envelope.ttl_ms is None:
        data.put_null()
    else:
        data.put_uint(envelope.ttl_ms)
    data.put_bool(False)  # first-acquirer
    data.put_uint(delivery_count)
    data.exit()
    data.exit()
    return data.encode()


def encode_message(
    envelope: Envelope,
    *,
    delivery_count: int,
    annotations: Mapping[str, Any],
    application_properties: Mapping[str, Any] | None = None,
) -> bytes:
    """The bytes delivered to a receiver: a fresh header, the sender's annotations overlaid with the broker's,
    and the bare message as sent, except for `application_properties` added by the broker (dead-lettering)."""
    merged = dict(envelope.annotations)
    merged.update({symbol(k): v for k, v in annotations.items()})
    app_properties = envelope.application_properties
    if application_properties:
        values = decode_map(app_properties) if app_properties else {}
        values.update(application_properties)
        app_properties = _encode_section(APPLICATION_PROPERTIES, values)
    return b"".join(
        (
            _encode_header(envelope, delivery_count),
            _encode_section(MESSAGE_ANNOTATIONS, merged) if merged else b"",
            envelope.properties,
            app_properties,
            envelope.body,
        )
    )
