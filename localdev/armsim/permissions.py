"""What the app's identity may do on each private cloud, in the shape of the ARM permissions API.

The fleet says it per cloud, either as a preset or as explicit permission entries. The simulator uses the
same entries twice: it serves them from `{cloud}/providers/Microsoft.Authorization/permissions` (so the
app's own pre-flight check reads exactly what enforcement uses), and it refuses ARM calls they don't
allow. Evaluation follows ARM: an action is allowed when one entry has a matching `actions` glob and no
matching `notActions` glob in that same entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from localdev.armsim.errors import ConfigError
from localdev.armsim.schema import Doc, compile_glob

READ_CLOUD = "Microsoft.AVS/privateClouds/read"
READ_LINKS = "Microsoft.AVS/privateClouds/cloudLinks/read"
WRITE_LINKS = "Microsoft.AVS/privateClouds/cloudLinks/write"
DELETE_LINKS = "Microsoft.AVS/privateClouds/cloudLinks/delete"
READ_SEGMENTS = "Microsoft.AVS/privateClouds/workloadNetworks/segments/read"
READ_GLOBAL_REACH = "Microsoft.AVS/privateClouds/globalReachConnections/read"


@dataclass(frozen=True)
class PermissionEntry:
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()
    _compiled: tuple[tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        compiled = (tuple(map(compile_glob, self.actions)), tuple(map(compile_glob, self.not_actions)))
        object.__setattr__(self, "_compiled", compiled)

    def allows(self, action: str) -> bool:
        granted, denied = self._compiled
        return any(g.match(action) for g in granted) and not any(d.match(action) for d in denied)

    def as_arm(self) -> dict[str, list[str]]:
        return {
            "actions": list(self.actions),
            "notActions": list(self.not_actions),
            "dataActions": list(self.data_actions),
            "notDataActions": list(self.not_data_actions),
        }


# The core of the built-in Contributor role: everything except managing access itself. Serving
# `*` with notActions makes the app's wildcard evaluation earn its keep.
_CONTRIBUTOR_NOT_ACTIONS = (
    "Microsoft.Authorization/*/Delete",
    "Microsoft.Authorization/*/Write",
    "Microsoft.Authorization/elevateAccess/Action",
)

PRESETS: dict[str, tuple[PermissionEntry, ...]] = {
    "write": (PermissionEntry(actions=("Microsoft.AVS/privateClouds/*",)),),
    "contributor": (PermissionEntry(actions=("*",), not_actions=_CONTRIBUTOR_NOT_ACTIONS),),
    "read": (PermissionEntry(actions=("Microsoft.AVS/*/read",)),),
    "none": (),
}


def parse_permissions(value: object, where: str) -> tuple[PermissionEntry, ...]:
    """A preset name, one entry mapping, or a list of entry mappings."""
    if isinstance(value, str):
        preset = PRESETS.get(value.lower())
        if preset is None:
            raise ConfigError(
                f"{where}: unknown preset {value!r}; expected one of {sorted(PRESETS)} "
                "or {actions: [...], notActions: [...]}"
            )
        return preset
    items = value if isinstance(value, list) else [value]
    return tuple(
        _parse_entry(Doc(item, f"{where}[{i}]" if isinstance(value, list) else where)) for i, item in enumerate(items)
    )


def _parse_entry(doc: Doc) -> PermissionEntry:
    entry = PermissionEntry(
        actions=tuple(doc.str_list("actions")),
        not_actions=tuple(doc.str_list("notActions")),
        data_actions=tuple(doc.str_list("dataActions")),
        not_data_actions=tuple(doc.str_list("notDataActions")),
    )
    doc.done()
    return entry


def allows(entries: tuple[PermissionEntry, ...], action: str) -> bool:
    return any(entry.allows(action) for entry in entries)
