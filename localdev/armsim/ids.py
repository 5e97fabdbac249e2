"""ARM resource ids for the simulated types, compared the way ARM compares them: case-insensitively.

ARM echoes ids in their stored casing but accepts any casing on input (`resourcegroups`,
`CLOUD1`), and the app under test must cope with both, so every lookup goes through a lower-cased key.
"""

from __future__ import annotations

import re

CLOUD_TYPE = "Microsoft.AVS/privateClouds"
LINK_TYPE = "Microsoft.AVS/privateClouds/cloudLinks"
SEGMENT_TYPE = "Microsoft.AVS/privateClouds/workloadNetworks/segments"
GLOBAL_REACH_TYPE = "Microsoft.AVS/privateClouds/globalReachConnections"

# The service's rule for private cloud and cloud link names (docs/avs-api.md §2.1).
NAME_PATTERN = re.compile(r"^[-\w._]+$")

_CLOUD_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.AVS/privateClouds/(?P<name>[^/]+)/?$",
    re.IGNORECASE,
)

CloudKey = tuple[str, str, str]


def cloud_id(subscription_id: str, resource_group: str, name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{CLOUD_TYPE}/{name}"


def cloud_key(subscription_id: str, resource_group: str, name: str) -> CloudKey:
    return (subscription_id.lower(), resource_group.lower(), name.lower())


def parse_cloud_id(text: str) -> CloudKey | None:
    """The lookup key of a private cloud id in any casing, or None if `text` is not one."""
    match = _CLOUD_ID.match(text.strip())
    if match is None:
        return None
    return cloud_key(match["sub"], match["rg"], match["name"])


def is_valid_name(name: str) -> bool:
    return bool(NAME_PATTERN.match(name))
