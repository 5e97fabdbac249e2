"""Field-by-field readers for the YAML/JSON documents the simulator accepts (fleets, faults, admin calls).

Every reader names the field it complains about ("subscriptions[0].resourceGroups[1].privateClouds[2]
.networkBlock: ..."), and `Doc.done()` rejects keys nobody read, so a misspelt `buildSecond` fails
loudly instead of silently falling back to a default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from localdev.armsim.errors import ConfigError

# Default for readers: the field must be present.
REQUIRED: Any = object()


def compile_glob(pattern: str) -> re.Pattern[str]:
    """Case-insensitive glob where `*` matches any run of characters, slashes included.

    That is how ARM evaluates action strings (`Microsoft.AVS/*/read`), and it is the least
    surprising rule for path patterns too (`*/cloudLinks/*`).
    """
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$", re.IGNORECASE)


class Doc:
    """A mapping read field by field, remembering which keys were read."""

    def __init__(self, value: object, where: str = "") -> None:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where or 'document'}: expected a mapping, got {type(value).__name__}")
        self.where = where
        self._data: Mapping[str, Any] = value
        self._read: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return key in self._data

    def fields(self) -> list[str]:
        return [str(key) for key in self._data]

    def raw(self, key: str, default: Any = REQUIRED) -> Any:
        self._read.add(key)
        if key in self._data:
            return self._data[key]
        if default is REQUIRED:
            raise ConfigError(f"{self.at(key)}: required")
        return default

    def str(self, key: str, default: Any = REQUIRED) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self.at(key)}: expected a non-empty string, got {value!r}")
        return value

    def opt_str(self, key: str) -> str | None:
        value = self.raw(key, None)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self.at(key)}: expected a non-empty string or null, got {value!r}")
        return value

    def number(self, key: str, default: Any = REQUIRED, minimum: float = 0.0, maximum: float | None = None) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self.at(key)}: expected a number, got {value!r}")
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f">= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
            raise ConfigError(f"{self.at(key)}: must be {bounds}, got {value!r}")
        return float(value)

    def integer(self, key: str, default: Any = REQUIRED, minimum: int = 0) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{self.at(key)}: expected an integer >= {minimum}, got {value!r}")
        return value

    def opt_integer(self, key: str, minimum: int = 0) -> int | None:
        return None if self.raw(key, None) is None else self.integer(key, minimum=minimum)

    def choice(self, key: str, choices: Iterable[str], default: Any = REQUIRED) -> str:
        """A string from `choices`, matched case-insensitively and returned in its canonical spelling."""
        allowed = {c.lower(): c for c in choices}
        value = self.raw(key, default)
        if not isinstance(value, str) or value.lower() not in allowed:
            raise ConfigError(f"{self.at(key)}: expected one of {sorted(allowed.values())}, got {value!r}")
        return allowed[value.lower()]

    def list(self, key: str) -> list[Any]:
        value = self.raw(key, [])
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConfigError(f"{self.at(key)}: expected a list, got {type(value).__name__}")
        return value

    def str_list(self, key: str) -> list[str]:
        items = self.list(key)
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(f"{self.at(key)}[{i}]: expected a non-empty string, got {item!r}")
        return items

    def docs(self, key: str) -> list[Doc]:
        return [Doc(item, f"{self.at(key)}[{i}]") for i, item in enumerate(self.list(key))]

    def done(self) -> None:
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise ConfigError(
                f"{self.where or 'document'}: unknown field(s) {unknown}; known here: {sorted(self._read)}"
            )
