"""Does the app's identity hold an ARM action? Evaluated as ARM does, on the permissions API's answer.

An action is granted when some entry has an `actions` pattern matching it and no `notActions` pattern of
that same entry matching it (docs/avs-api.md §3.1). Patterns are case-insensitive with `*` wildcards.
"""

from __future__ import annotations

import re
from functools import lru_cache

from interconnect.avs.resources import PermissionEntry

WRITE_LINK = "Microsoft.AVS/privateClouds/cloudLinks/write"
DELETE_LINK = "Microsoft.AVS/privateClouds/cloudLinks/delete"


@lru_cache(maxsize=256)
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in glob.split("*")) + "$", re.IGNORECASE)


def matches(glob: str, action: str) -> bool:
    return bool(_pattern(glob).match(action))


def is_granted(entries: tuple[PermissionEntry, ...], action: str) -> bool:
    return any(
        any(matches(a, action) for a in entry.actions) and not any(matches(n, action) for n in entry.not_actions)
        for entry in entries
    )
