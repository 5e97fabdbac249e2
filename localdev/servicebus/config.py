"""Queue configuration for the Service Bus stand-in, read from the same JSON the app's Bicep is checked against.

The file uses ARM property names and ISO-8601 durations so that one document can describe both the deployed
queues and the local ones. Unknown properties are refused: a typo would otherwise silently fall back to a
default and the local queue would behave differently from the deployed one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Service Bus Standard tier limit; `maxMessageSizeInKilobytes` exists only on Premium but is honoured if set.
DEFAULT_MAX_MESSAGE_SIZE_KIB = 256

# ARM properties that describe deployment concerns the stand-in has no behaviour for. Accepted so the same file
# can carry them, ignored otherwise.
_IGNORED_PROPERTIES = frozenset(
    {
        "maxSizeInMegabytes",
        "enablePartitioning",
        "enableBatchedOperations",
        "enableExpress",
        "autoDeleteOnIdle",
        "forwardTo",
        "forwardDeadLetteredMessagesTo",
        "status",
    }
)

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_SECONDS = {"weeks": 604800.0, "days": 86400.0, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0}


class ConfigError(ValueError):
    """The queue configuration cannot be used."""


def parse_duration(text: str) -> float:
    """Seconds in an ISO-8601 duration such as `PT1M` or `P1DT2H`. Years and months are refused: their length
    depends on the calendar, and ARM never emits them for Service Bus."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ConfigError(f"not an ISO-8601 duration of weeks/days/hours/minutes/seconds: {text!r}")
    return sum(float(value) * _UNIT_SECONDS[unit] for unit, value in match.groupdict().items() if value)


@dataclass(frozen=True)
class QueueConfig:
    """One queue's behaviour. Durations are in seconds; `default_message_ttl` None means never expire."""

    name: str
    lock_duration: float = 60.0
    max_delivery_count: int = 10
    requires_duplicate_detection: bool = False
    duplicate_detection_window: float = 600.0
    requires_session: bool = False
    dead_lettering_on_message_expiration: bool = False
    default_message_ttl: float | None = None
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE_KIB * 1024

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,259}", self.name):
            raise ConfigError(f"invalid queue name {self.name!r}")
        # Service Bus allows PT5S..PT5M. Locks down to one second are allowed here so that tests of lock
        # expiry stay fast; anything the service refuses for being too long is refused here too.
        if not 1 <= self.lock_duration <= 300:
            raise ConfigError(f"{self.name}: lockDuration must be between PT1S and PT5M")
        if self.max_delivery_count < 1:
            raise ConfigError(f"{self.name}: maxDeliveryCount must be at least 1")
        if self.duplicate_detection_window <= 0:
            raise ConfigError(f"{self.name}: duplicateDetectionHistoryTimeWindow must be positive")
        if self.default_message_ttl is not None and self.default_message_ttl <= 0:
            raise ConfigError(f"{self.name}: defaultMessageTimeToLive must be positive")
        if self.max_message_size <= 0:
            raise ConfigError(f"{self.name}: maxMessageSizeInKilobytes must be positive")

    @classmethod
    def from_arm(cls, props: Mapping[str, Any]) -> QueueConfig:
        """Build from ARM-named properties, e.g. `{"name": "q", "lockDuration": "PT1M"}`."""
        unknown = set(props) - set(_ARM_FIELDS) - _IGNORED_PROPERTIES - {"name"}
        if unknown:
            raise ConfigError(f"queue {props.get('name')!r}: unknown properties {sorted(unknown)}")
        if "name" not in props:
            raise ConfigError("every queue needs a name")
        kwargs: dict[str, Any] = {"name": props["name"]}
        for arm_name, (field_name, convert) in _ARM_FIELDS.items():
            if arm_name in props:
                kwargs[field_name] = convert(props[arm_name])
        return cls(**kwargs)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"expected true or false, got {value!r}")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"expected an integer, got {value!r}")
    return value


def _kib(value: Any) -> int:
    return _positive_int(value) * 1024


_ARM_FIELDS: dict[str, tuple[str, Any]] = {
    "lockDuration": ("lock_duration", parse_duration),
    "maxDeliveryCount": ("max_delivery_count", _positive_int),
    "requiresDuplicateDetection": ("requires_duplicate_detection", _boolean),
    "duplicateDetectionHistoryTimeWindow": ("duplicate_detection_window", parse_duration),
    "requiresSession": ("requires_session", _boolean),
    "deadLetteringOnMessageExpiration": ("dead_lettering_on_message_expiration", _boolean),
    "defaultMessageTimeToLive": ("default_message_ttl", parse_duration),
    "maxMessageSizeInKilobytes": ("max_message_size", _kib),
}


def parse_config(document: Mapping[str, Any]) -> list[QueueConfig]:
    """Queues from a `{"queues": [...]}` document; names must be unique ignoring case, as in Service Bus."""
    if not isinstance(document, Mapping) or not isinstance(document.get("queues"), list):
        raise ConfigError('expected a JSON object with a "queues" list')
    unknown = set(document) - {"queues"}
    if unknown:
        raise ConfigError(f"unknown top-level keys {sorted(unknown)}")
    queues = [QueueConfig.from_arm(item) for item in document["queues"]]
    seen: set[str] = set()
    for queue in queues:
        if queue.name.lower() in seen:
            raise ConfigError(f"queue {queue.name!r} is declared twice")
        seen.add(queue.name.lower())
    return queues


def load_config(path: Path | str) -> list[QueueConfig]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return parse_config(document)
