"""The pre-flight rule set on the ARM simulator, through the real AVS adapter: one small fleet per scenario.

Each scenario describes a fleet (clouds in one subscription, two resource groups), a request, and what the
worker must decide: the kind of decision and every reason code, in rule order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from interconnect.adapters.avs import MAX_ARM_MESSAGE, AvsSdkGateway, _arm_message
from interconnect.adapters.memory import InMemoryRequestStore, InMemoryWorkQueue
from interconnect.avs.ids import CloudId, parse_cloud_id
from interconnect.errors import DependencyError, MalformedAnswerError
from interconnect.linking.facts import Preflight, facts_view
from interconnect.linking.intake import Intake
from interconnect.linking.model import Action, Requester
from interconnect.linking.policy import load_policy
from interconnect.linking.rules import decide
from interconnect.linking.validation import Submit
from tests.factories import Clock

pytestmark = pytest.mark.integration

SUB = "33333333-3333-3333-3333-333333333333"
API = Requester("api", "key", "function key")  # automation: may disconnect under the default policy
CHAT = Requester("slack", "T1/U1")


def cid(name: str) -> CloudId:
    rg = "rg-other" if name.startswith("o-") else "rg-main"
    return parse_cloud_id(f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.AVS/privateClouds/{name}")


def pc(name: str, block: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "location": extra.pop("location", "westeurope"), "networkBlock": block, **extra}


def routed(name: str, gateway: str) -> dict[str, Any]:
    return {"name": name, "gatewayAddress": gateway, "connectedGateway": "/infra/tier-1s/t1"}


@dataclass
class Scenario:
    name: str
    clouds: list[dict[str, Any]]
    expect: str  # decision kind
    codes: list[str] = field(default_factory=list)
    action: Action = Action.CONNECT
    source: str = "a"
    target: str = "b"
    requester: Requester = API
    policy: str = ""
    pending: list[tuple[str, str]] = field(default_factory=list)  # connects accepted earlier
    refuse: list[dict[str, Any]] = field(default_factory=list)  # armsim error rules: reads ARM answers 4xx


def refuse(kind: str, cloud: str, status: int = 403, code: str = "AuthorizationFailed") -> dict[str, Any]:
    """An armsim error rule: ARM answers `status` to the `kind` read of `cloud`."""
    path = f"*/privateClouds/{cloud}" if kind == "privateClouds.get" else f"*/privateClouds/{cloud}/*"
    return {"status": status, "code": code, "kinds": [kind], "path": path}


A, B = pc("a", "10.0.0.0/22"), pc("b", "10.0.4.0/22")
TEN_PEERS = [pc(f"p{i}", f"172.16.{i * 4}.0/22") for i in range(10)]
A_LINKED_TO_C = [pc("a", "10.0.0.0/22", links=[{"target": "c"}]), B, pc("c", "172.16.0.0/22")]

SCENARIOS = [
    Scenario("clean pair", [A, B], "create"),
    Scenario("identical blocks", [A, pc("b", "10.0.0.0/22")], "reject", ["ADDRESS_OVERLAP"]),
    Scenario(
        "nested extended block",
        [A, pc("b", "10.0.4.0/22", extendedNetworkBlocks=["10.0.2.0/23"])],
        "reject",
        ["ADDRESS_OVERLAP"],
    ),
    Scenario(
        "circuit /30 inside the other block",
        [A, pc("b", "10.0.4.0/22", circuit={"primarySubnet": "10.0.3.252/30", "secondarySubnet": "192.168.0.0/30"})],
        "reject",
        ["ADDRESS_OVERLAP"],
    ),
    Scenario(
        "global reach prefix",
        [A, pc("b", "10.0.4.0/22", globalReach=[{"name": "gr", "addressPrefix": "10.0.1.0/29"}])],
        "reject",
        ["ADDRESS_OVERLAP"],
    ),
    Scenario(
        "routed segment",
        [A, pc("b", "10.0.4.0/22", segments=[routed("web", "10.0.2.1/24")])],
        "reject",
        ["ADDRESS_OVERLAP"],
    ),
    Scenario(
        "unrouted segment is ignored",
        [A, pc("b", "10.0.4.0/22", segments=[{"name": "lab", "gatewayAddress": "10.0.2.1/24"}])],
        "create",
    ),
    Scenario(
        "ipv6 segments overlap",
        [
            pc("a", "10.0.0.0/22", segments=[routed("v6", "fd00:1::1/48")]),
            pc("b", "10.0.4.0/22", segments=[routed("v6", "fd00:1:0:5::1/64")]),
        ],
        "reject",
        ["ADDRESS_OVERLAP"],
    ),
    Scenario("adjacent blocks", [A, B], "create"),
    Scenario(
        "malformed prefix from ARM",
        [A, pc("b", "10.0.4.0/22", globalReach=[{"name": "gr", "addressPrefix": "!raw:10.0.300.0/29"}])],
        "reject",
        ["INVALID_PREFIX"],
    ),
    Scenario("different regions", [A, pc("b", "10.0.4.0/22", location="eastus")], "reject", ["REGION_MISMATCH"]),
    Scenario("target missing", [A], "reject", ["CLOUD_NOT_FOUND"]),
    Scenario("both missing", [], "reject", ["CLOUD_NOT_FOUND", "CLOUD_NOT_FOUND"]),
    Scenario(
        "cloud updating", [A, pc("b", "10.0.4.0/22", provisioningState="Updating")], "reject", ["CLOUD_NOT_READY"]
    ),
    Scenario("read-only target", [A, pc("b", "10.0.4.0/22", permissions="read")], "reject", ["PERMISSION_DENIED"]),
    Scenario(
        "notActions exclude cloud links",
        [
            A,
            pc(
                "b",
                "10.0.4.0/22",
                permissions={
                    "actions": ["Microsoft.AVS/*"],
                    "notActions": ["Microsoft.AVS/privateClouds/cloudLinks/write"],
                },
            ),
        ],
        "reject",
        ["PERMISSION_DENIED"],
    ),
    Scenario("contributor wildcard", [A, pc("b", "10.0.4.0/22", permissions="contributor")], "create"),
    Scenario(
        "tenth link is allowed",
        [pc("a", "10.0.0.0/22", links=[{"target": f"p{i}"} for i in range(9)]), B, *TEN_PEERS[:9]],
        "create",
    ),
    Scenario(
        "eleventh link is refused",
        [
            pc("a", "10.0.0.0/22", links=[{"target": f"p{i}"} for i in range(5)]),
            B,
            *[pc(f"p{i}", f"172.16.{i * 4}.0/22", links=[{"target": "a"}] if i >= 5 else []) for i in range(10)],
        ],
        "reject",
        ["LINK_LIMIT"],
    ),
    Scenario(
        "accepted requests count toward the limit",
        [A, B, *TEN_PEERS],
        "reject",
        ["LINK_LIMIT"],
        pending=[("a", f"p{i}") for i in range(10)],
    ),
    Scenario(
        "peer of the source overlaps the target",
        [pc("a", "10.0.0.0/22", links=[{"target": "c"}]), B, pc("c", "10.0.4.0/22")],
        "reject",
        ["NEIGHBOR_OVERLAP"],
    ),
    Scenario(
        "incoming peer of the target overlaps the source",
        [A, B, pc("c", "10.0.0.0/22", links=[{"target": "b", "status": "Building"}])],
        "reject",
        ["NEIGHBOR_OVERLAP"],
    ),
    Scenario(
        "peer from an accepted request overlaps",
        [A, B, pc("c", "10.0.0.0/22")],
        "reject",
        ["NEIGHBOR_OVERLAP"],
        pending=[("c", "b")],
    ),
    Scenario(
        "peers that do not overlap are fine",
        [pc("a", "10.0.0.0/22", links=[{"target": "c"}]), B, pc("c", "10.0.8.0/22")],
        "create",
    ),
    Scenario("already linked this way", [pc("a", "10.0.0.0/22", links=[{"target": "b"}]), B], "noop"),
    Scenario("already linked the other way", [A, pc("b", "10.0.4.0/22", links=[{"target": "a"}])], "noop"),
    Scenario(
        "failed link is repaired in place",
        [A, pc("b", "10.0.4.0/22", links=[{"target": "a", "status": "Failed"}])],
        "create",
    ),
    Scenario(
        "disconnect where the link lives on the target",
        [A, pc("b", "10.0.4.0/22", links=[{"target": "a"}])],
        "delete",
        action=Action.DISCONNECT,
    ),
    Scenario("disconnect not linked", [A, B], "noop", action=Action.DISCONNECT),
    Scenario(
        "disconnect ignores overlap and region",
        [pc("a", "10.0.0.0/22", links=[{"target": "b"}]), pc("b", "10.0.0.0/22")],
        "delete",
        action=Action.DISCONNECT,
    ),
    Scenario(
        "disconnect needs delete where the link lives",
        [pc("a", "10.0.0.0/22", permissions="read", links=[{"target": "b"}]), B],
        "reject",
        ["PERMISSION_DENIED"],
        action=Action.DISCONNECT,
    ),
    Scenario(
        "chat may not disconnect by default",
        [pc("a", "10.0.0.0/22", links=[{"target": "b"}]), B],
        "reject",
        ["REQUESTER_NOT_ALLOWED"],
        action=Action.DISCONNECT,
        requester=CHAT,
    ),
    Scenario(
        "policy scopes a requester to one resource group",
        [A, pc("o-b", "10.0.4.0/22")],
        "reject",
        ["REQUESTER_NOT_ALLOWED"],
        target="o-b",
        requester=CHAT,
        policy='{"rules": [{"requesters": ["slack:T1/*"], "actions": ["connect"], '
        f'"scopes": ["/subscriptions/{SUB}/resourceGroups/rg-main"]}}]}}',
    ),
    Scenario(
        "policy allows within scope",
        [A, B],
        "create",
        requester=CHAT,
        policy='{"rules": [{"requesters": ["slack:T1/*"], "actions": ["connect"], '
        f'"scopes": ["/subscriptions/{SUB}/resourceGroups/rg-main"]}}]}}',
    ),
    # Reads ARM refuses are verdicts naming the cloud and the read, never exceptions.
    Scenario(
        "target that cannot be read", [A, B], "reject", ["CLOUD_NOT_FOUND"], refuse=[refuse("privateClouds.get", "b")]
    ),
    Scenario(
        "target hidden from the app (permissions none)",
        [A, pc("b", "10.0.4.0/22", permissions="none")],
        "reject",
        ["CLOUD_NOT_FOUND"],
    ),
    Scenario(
        "target's links refused", [A, B], "reject", ["PERMISSION_DENIED"], refuse=[refuse("cloudLinks.list", "b")]
    ),
    Scenario(
        "target's segments refused", [A, B], "reject", ["PERMISSION_DENIED"], refuse=[refuse("segments.list", "b")]
    ),
    Scenario(
        "target's Global Reach refused",
        [A, B],
        "reject",
        ["PERMISSION_DENIED"],
        refuse=[refuse("globalReach.list", "b")],
    ),
    Scenario(
        "app's permissions on the target refused",
        [A, B],
        "reject",
        ["PERMISSION_DENIED"],
        refuse=[refuse("permissions.list", "b")],
    ),
    Scenario(
        "source's segments gone (404)",
        [A, B],
        "reject",
        ["CLOUD_NOT_FOUND"],
        refuse=[refuse("segments.list", "a", 404, "ResourceNotFound")],
    ),
    Scenario(
        "other permanent 4xx on a read",
        [A, B],
        "reject",
        ["ARM_BadRequest"],
        refuse=[refuse("globalReach.list", "a", 400, "BadRequest")],
    ),
    Scenario(
        "neighbour that cannot be read",
        A_LINKED_TO_C,
        "reject",
        ["NEIGHBOR_UNREADABLE"],
        refuse=[refuse("privateClouds.get", "c")],
    ),
    Scenario(
        "neighbour's segments refused",
        A_LINKED_TO_C,
        "reject",
        ["NEIGHBOR_UNREADABLE"],
        refuse=[refuse("segments.list", "c")],
    ),
    Scenario(
        "neighbour's Global Reach refused",
        A_LINKED_TO_C,
        "reject",
        ["NEIGHBOR_UNREADABLE"],
        refuse=[refuse("globalReach.list", "c")],
    ),
    Scenario(
        "incoming peer whose links cannot be listed is still judged",
        [A, B, pc("c", "10.0.0.0/22", links=[{"target": "b"}])],
        "reject",
        ["NEIGHBOR_OVERLAP"],
        refuse=[refuse("cloudLinks.list", "c")],
    ),
    Scenario(
        "disconnect of a link to a cloud that cannot be read",
        [pc("a", "10.0.0.0/22", links=[{"target": "b"}]), B],
        "delete",
        action=Action.DISCONNECT,
        refuse=[refuse("privateClouds.get", "b")],
    ),
    Scenario(
        "disconnect ignores an unreadable neighbour",
        [pc("a", "10.0.0.0/22", links=[{"target": "b"}, {"target": "c"}]), B, pc("c", "172.16.0.0/22")],
        "delete",
        action=Action.DISCONNECT,
        refuse=[refuse("privateClouds.get", "c"), refuse("segments.list", "c")],
    ),
    Scenario(
        "disconnect when the unreadable end holds a link too",
        [pc("a", "10.0.0.0/22", links=[{"target": "b"}]), pc("b", "10.0.4.0/22", links=[{"target": "a"}])],
        "reject",
        ["CLOUD_NOT_FOUND"],
        action=Action.DISCONNECT,
        refuse=[refuse("privateClouds.get", "b"), refuse("cloudLinks.list", "b")],
    ),
    # An empty prefix on an object that routes is INVALID_PREFIX, never dropped.
    Scenario("empty network block", [A, pc("b", "!raw:")], "reject", ["INVALID_PREFIX"]),
    Scenario(
        "empty extended block",
        [A, pc("b", "10.0.4.0/22", extendedNetworkBlocks=["!raw:"])],
        "reject",
        ["INVALID_PREFIX"],
    ),
    Scenario(
        "empty circuit subnet",
        [A, pc("b", "10.0.4.0/22", circuit={"primarySubnet": "!raw:", "secondarySubnet": "192.168.0.0/30"})],
        "reject",
        ["INVALID_PREFIX"],
    ),
    Scenario(
        "empty Global Reach prefix",
        [
            A,
            pc(
                "b",
                "10.0.4.0/22",
                globalReach=[{"name": "gr", "addressPrefix": "!raw:", "circuitConnectionStatus": "Connecting"}],
            ),
        ],
        "reject",
        ["INVALID_PREFIX"],
    ),
    Scenario(
        "connected segment without a gateway address",
        [A, pc("b", "10.0.4.0/22", segments=[routed("web", "!raw:")])],
        "reject",
        ["INVALID_PREFIX"],
    ),
    Scenario(
        "unconnected segment without a gateway address routes nothing",
        [A, pc("b", "10.0.4.0/22", segments=[{"name": "lab", "gatewayAddress": "!raw:"}])],
        "create",
    ),
    Scenario(
        "empty prefix on a neighbour",
        [pc("a", "10.0.0.0/22", links=[{"target": "c"}]), B, pc("c", "!raw:")],
        "reject",
        ["INVALID_PREFIX"],
    ),
    # A malformed answer is a refusal of its read (ARM_MALFORMED_ANSWER), and never loses a link or a peer.
    Scenario(
        "target's link with a linkedCloud that is no cloud id",
        [
            A,
            pc("b", "10.0.4.0/22", links=[{"target": "c", "linkedCloud": "!raw:not-a-cloud"}]),
            pc("c", "172.16.0.0/22"),
        ],
        "reject",
        ["ARM_MALFORMED_ANSWER"],
    ),
    Scenario(
        "incoming link with a malformed linkedCloud keeps its holder a peer",
        [A, B, pc("c", "10.0.0.0/22", links=[{"target": "b", "linkedCloud": "!raw:../../x"}])],
        "reject",
        ["NEIGHBOR_OVERLAP"],
    ),
    Scenario(
        "disconnect when the holder's other link is malformed",
        [
            pc("a", "10.0.0.0/22", links=[{"target": "b"}, {"target": "c", "linkedCloud": "!raw:"}]),
            B,
            pc("c", "172.16.0.0/22"),
        ],
        "reject",
        ["ARM_MALFORMED_ANSWER"],
        action=Action.DISCONNECT,
    ),
    # A repair of an existing link is not a new link.
    Scenario(
        "repair of a failed link at the limit",
        [
            pc("a", "10.0.0.0/22", links=[{"target": f"p{i}"} for i in range(9)]),
            pc("b", "10.0.4.0/22", links=[{"target": "a", "status": "Failed"}]),
            *TEN_PEERS[:9],
        ],
        "create",
    ),
    Scenario(
        "every failure at once",
        [A, pc("b", "10.0.0.0/22", location="eastus", permissions="read", provisioningState="Updating")],
        "reject",
        ["REQUESTER_NOT_ALLOWED", "CLOUD_NOT_READY", "REGION_MISMATCH", "PERMISSION_DENIED", "ADDRESS_OVERLAP"],
        requester=CHAT,
        policy='{"rules": []}',
    ),
]


def fleet(clouds: list[dict[str, Any]], errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {"rg-main": [], "rg-other": []}
    for cloud in clouds:
        groups["rg-other" if cloud["name"].startswith("o-") else "rg-main"].append(cloud)
    return {
        "settings": {"retryAfter": 1},
        "faults": {"throttle": {"reads": None, "writes": None, "deletes": None}, "errors": errors or []},
        "subscriptions": [
            {"id": SUB, "resourceGroups": [{"name": rg, "privateClouds": pcs} for rg, pcs in groups.items()]}
        ],
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(armsim, scenario: Scenario) -> None:
    armsim.load(fleet(scenario.clouds, scenario.refuse))
    store = InMemoryRequestStore()
    intake = Intake(store, InMemoryWorkQueue(), Clock())
    for source, target in scenario.pending:
        intake.submit(Submit(Action.CONNECT, cid(source), cid(target), API))
    gateway = AvsSdkGateway(None, base_url=armsim.url, retry_total=0)
    preflight = Preflight(gateway, store, load_policy(scenario.policy))
    decision = decide(preflight.gather(scenario.action, cid(scenario.source), cid(scenario.target), scenario.requester))
    assert (decision.kind, [r.code for r in decision.reasons]) == (scenario.expect, scenario.codes), decision
    for reason in decision.reasons:
        assert reason.message and reason.details
    refused = {(rule["kinds"][0], rule["path"].split("/")[2]) for rule in scenario.refuse}
    for reason in decision.reasons:
        if "read" in reason.details and scenario.refuse:  # a refused read is named: which, of which cloud, why
            assert (reason.details["read"], parse_cloud_id(reason.details["cloud"]).name) in refused
            assert reason.details["status"] in {r["status"] for r in scenario.refuse}


def test_a_transient_error_on_a_read_is_raised_for_a_retry_not_turned_into_a_verdict(armsim) -> None:
    armsim.load(fleet([A, B], [{"status": 503, "kinds": ["segments.list"]}]))
    preflight = Preflight(AvsSdkGateway(None, base_url=armsim.url, retry_total=0), InMemoryRequestStore())
    with pytest.raises(DependencyError):
        preflight.gather(Action.CONNECT, cid("a"), cid("b"), API)


def test_the_dry_run_view_names_each_refused_read(armsim) -> None:
    armsim.load(fleet(A_LINKED_TO_C, [refuse("segments.list", "c"), refuse("permissions.list", "b")]))
    preflight = Preflight(AvsSdkGateway(None, base_url=armsim.url, retry_total=0), InMemoryRequestStore())
    view = facts_view(preflight.gather(Action.CONNECT, cid("a"), cid("b"), API))
    assert sorted((r["read"], r["cloud"], r["status"], r["armCode"]) for r in view["refusedReads"]) == [
        ("permissions.list", str(cid("b")), 403, "AuthorizationFailed"),
        ("segments.list", str(cid("c")), 403, "AuthorizationFailed"),
    ]


def test_an_arm_error_code_outside_arms_grammar_is_not_passed_on(armsim) -> None:
    armsim.load(
        fleet(
            [A, B],
            [
                {
                    "status": 403,
                    "code": "Denied\r\nX-Evil: <b>" + "x" * 200,
                    "kinds": ["segments.list"],
                    "path": "*/privateClouds/b/*",
                }
            ],
        )
    )
    preflight = Preflight(AvsSdkGateway(None, base_url=armsim.url, retry_total=0), InMemoryRequestStore())
    decision = decide(preflight.gather(Action.CONNECT, cid("a"), cid("b"), API))
    (reason,) = decision.reasons
    assert (reason.code, reason.details["armCode"], reason.details["status"]) == ("PERMISSION_DENIED", "HTTP_403", 403)
    assert "Evil" not in reason.message and "\n" not in reason.details["armMessage"]


def test_arm_messages_are_kept_to_one_printable_line_of_bounded_length() -> None:
    assert _arm_message("denied\r\n\x1b[31mred\tand  more") == "denied [31mred and more"
    long = _arm_message("y" * 5000)
    assert len(long) == MAX_ARM_MESSAGE and long.endswith("…")


def test_a_malformed_link_is_named_in_a_bounded_message_and_a_check_of_it_is_an_arm_error(armsim) -> None:
    hostile = "/subscriptions/\r\nX-Evil: <b>" + "x" * 5000
    odd = {"target": "c", "name": "odd", "linkedCloud": f"!raw:{hostile}"}
    armsim.load(fleet([A, pc("b", "10.0.4.0/22", links=[odd, {"target": "a"}]), pc("c", "172.16.0.0/22")]))
    gateway = AvsSdkGateway(None, base_url=armsim.url, retry_total=0)
    with pytest.raises(MalformedAnswerError) as listed:
        gateway.list_links(cid("b"))
    assert [(link.name, link.target) for link in listed.value.partial or []] == [("a", cid("a"))]
    message = listed.value.message
    assert "link 'odd'" in message and "linkedCloud" in message and cid("b").short in message
    assert "\n" not in message and "x" * 100 not in message and len(message) < 400
    with pytest.raises(MalformedAnswerError):  # the worker's check of a link: Failed with this cause
        gateway.get_link(cid("b"), "odd")
    view = facts_view(Preflight(gateway, InMemoryRequestStore()).gather(Action.CONNECT, cid("a"), cid("b"), API))
    assert [(r["read"], r["cloud"], r["armCode"]) for r in view["refusedReads"]] == [
        ("cloudLinks.list", str(cid("b")), "MALFORMED_ANSWER")
    ]
