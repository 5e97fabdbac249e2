"""The AVS custom role grants what the app calls and nothing that could change a private cloud.

The calls are read from the AVS adapter's source (interconnect/adapters/avs.py): a new SDK call fails
test_every_avs_call_is_covered until its action is in infra/app/avs-role.bicep and in CALL_ACTIONS below.
Grants are evaluated with the app's own matcher (interconnect/avs/permissions.py), as ARM evaluates wildcards.
"""

from __future__ import annotations

import ast

from interconnect.avs.permissions import DELETE_LINK, WRITE_LINK, is_granted
from interconnect.avs.resources import PermissionEntry
from tests.infra.bicep import ROOT, load, properties, strings_in, text

# SDK operation (group, method) -> the ARM action it needs. cloudLinks actions are unpublished (by ARM
# convention read/write/delete); the others are from the published Microsoft.AVS operations list.
CALL_ACTIONS = {
    ("private_clouds", "get"): "Microsoft.AVS/privateClouds/read",
    ("private_clouds", "list_in_subscription"): "Microsoft.AVS/privateClouds/read",
    ("cloud_links", "list"): "Microsoft.AVS/privateClouds/cloudLinks/read",
    ("cloud_links", "get"): "Microsoft.AVS/privateClouds/cloudLinks/read",
    ("cloud_links", "begin_create_or_update"): "Microsoft.AVS/privateClouds/cloudLinks/write",
    ("cloud_links", "begin_delete"): "Microsoft.AVS/privateClouds/cloudLinks/delete",
    ("workload_networks", "list_segments"): "Microsoft.AVS/privateClouds/workloadNetworks/segments/read",
    ("global_reach_connections", "list"): "Microsoft.AVS/privateClouds/globalReachConnections/read",
}
# Raw REST calls through send_request: a path fragment -> the action it needs (None: no RBAC action).
REST_ACTIONS = {
    "/providers/Microsoft.Authorization/permissions": "Microsoft.Authorization/permissions/read",
    "/providers/Microsoft.AVS/operations": None,  # health ping: any answer below 500 counts as reachable
}
SDK_GROUPS = {
    "operations",
    "addons",
    "authorizations",
    "cloud_links",
    "clusters",
    "datastores",
    "global_reach_connections",
    "hcx_enterprise_sites",
    "hosts",
    "iscsi_paths",
    "licenses",
    "locations",
    "maintenances",
    "placement_policies",
    "private_clouds",
    "provisioned_networks",
    "pure_storage_policies",
    "script_cmdlets",
    "script_executions",
    "script_packages",
    "skus",
    "virtual_machines",
    "workload_networks",
}

EXPECTED_ACTIONS = [
    "Microsoft.AVS/privateClouds/read",
    "Microsoft.AVS/privateClouds/workloadNetworks/segments/read",
    "Microsoft.AVS/privateClouds/globalReachConnections/read",
    "Microsoft.AVS/privateClouds/cloudLinks/*",
    "Microsoft.Authorization/permissions/read",
]
# Actions the role must never grant, however its patterns are edited.
DANGEROUS = [
    "Microsoft.AVS/privateClouds/write",
    "Microsoft.AVS/privateClouds/delete",
    "Microsoft.AVS/privateClouds/listAdminCredentials/action",
    "Microsoft.AVS/privateClouds/rotateVcenterPassword/action",
    "Microsoft.AVS/privateClouds/clusters/write",
    "Microsoft.AVS/privateClouds/globalReachConnections/write",
    "Microsoft.AVS/privateClouds/workloadNetworks/segments/write",
    "Microsoft.AVS/privateClouds/scriptExecutions/write",
    "Microsoft.Authorization/roleAssignments/write",
    "Microsoft.Authorization/roleDefinitions/write",
]


def role_permissions() -> tuple[list[str], list[str]]:
    role_file = load("infra/app/avs-role.bicep")
    [role] = role_file.resources_of_type("Microsoft.Authorization/roleDefinitions")
    body = properties(properties(role.value or role.node)["properties"])
    permissions = body["permissions"]
    [entry] = [c for c in permissions.children if c.type == "object"]
    fields = properties(entry)
    return strings_in(fields["actions"]), strings_in(fields["notActions"])


def grants(action: str) -> bool:
    actions, not_actions = role_permissions()
    return is_granted((PermissionEntry(tuple(actions), tuple(not_actions)),), action)


def adapter_calls() -> tuple[set[tuple[str, str]], set[str]]:
    """(SDK group, method) pairs and send_request path fragments in the AVS adapter."""
    tree = ast.parse((ROOT / "interconnect" / "adapters" / "avs.py").read_text())
    calls, strings = set(), set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr in SDK_GROUPS
        ):
            calls.add((node.func.value.attr, node.func.attr))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "/providers/" in node.value:
            strings.add(node.value)
        if isinstance(node, ast.JoinedStr):
            strings |= {v.value for v in node.values if isinstance(v, ast.Constant) and "/providers/" in str(v.value)}
    return calls, strings


def test_the_role_lists_exactly_the_documented_actions() -> None:
    actions, not_actions = role_permissions()
    assert actions == EXPECTED_ACTIONS
    assert not_actions == []


def test_every_avs_call_is_covered() -> None:
    calls, paths = adapter_calls()
    assert calls, "found no SDK calls: the reader is broken"
    unknown = calls - set(CALL_ACTIONS)
    assert not unknown, f"new AVS calls {sorted(unknown)}: add their actions to avs-role.bicep and CALL_ACTIONS"
    for call in calls:
        assert grants(CALL_ACTIONS[call]), f"{call} needs {CALL_ACTIONS[call]}"
    for path in paths:
        matches = [action for fragment, action in REST_ACTIONS.items() if fragment in path]
        assert matches, f"new REST call {path!r}: add it to REST_ACTIONS (and the role if it needs an action)"
        assert all(action is None or grants(action) for action in matches)


def test_the_app_would_see_its_own_link_permissions() -> None:
    # The PERMISSION_DENIED rule checks exactly these before acting; the role must satisfy it.
    assert grants(WRITE_LINK) and grants(DELETE_LINK)


def test_nothing_dangerous_is_granted() -> None:
    assert [action for action in DANGEROUS if grants(action)] == []


def test_the_cloud_links_wildcard_is_explained() -> None:
    source = load("infra/app/avs-role.bicep").source.decode()
    assert "publishes no Microsoft.AVS/privateClouds/cloudLinks/*" in source
    assert "Microsoft.AVS/privateClouds/*" in source  # the rejected broader fallback, and why


def test_the_role_is_assigned_at_every_listed_scope() -> None:
    main = load("infra/main.bicep")
    role = main.get("module", "avsRole")
    body = properties(role.value or role.node)
    assert text(properties(body["params"])["assignableScopes"]) == "avsAssignableScopes"
    assert (
        text(main.get("var", "avsAssignableScopes").value or main.root)
        == "concat(avsSubscriptionScopes, avsResourceGroupIds)"
    )
    subscriptions = main.get("module", "avsSubscriptionAccess")
    assert "for s in avsSubscriptions" in text(subscriptions.node)
    assert text(properties(subscriptions.value or subscriptions.node)["scope"]) == "subscription(s)"
    groups = main.get("module", "avsResourceGroupAccess")
    assert "for id in avsResourceGroupIds" in text(groups.node)
    assert (
        text(properties(groups.value or groups.node)["scope"]) == "resourceGroup(split(id, '/')[2], split(id, '/')[4])"
    )
    for module in (subscriptions, groups):
        assert "avsRole" in text(properties(module.value or module.node)["dependsOn"])
        params = properties(properties(module.value or module.node)["params"])
        assert text(params["principalId"]) == "identity.outputs.principalId"
