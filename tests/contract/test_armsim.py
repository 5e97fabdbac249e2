"""armsim against the real AVSClient: cloud-link lifecycle, reads, paging, the service's refusals.

Only the SDK talks to the simulator here (plus the admin client to load fleets and read the call log),
so these tests are the promise that code written against azure-mgmt-avs behaves the same on armsim.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.mgmt.avs.models import CloudLink
from hypothesis import given, settings
from hypothesis import strategies as st

from localdev.armsim import ArmSimAdmin, service
from localdev.cloud import DEMO_FLEET
from localdev.procs import free_port, port_open, wait_until
from tests.plugins.armsim import ArmSim, fleet_doc, sim_avs_client

pytestmark = pytest.mark.contract

S1 = "aaaaaaaa-0000-0000-0000-000000000001"
S2 = "bbbbbbbb-0000-0000-0000-000000000002"
PERMISSIONS_API = "2022-04-01"


def cid(name: str, rg: str = "rg-east", sub: str = S1) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.AVS/privateClouds/{name}"


def link_body(target_id: str) -> dict[str, Any]:
    return {"properties": {"linkedCloud": target_id}}


def cloud_doc(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(
        c for s in doc["subscriptions"] for rg in s["resourceGroups"] for c in rg["privateClouds"] if c["name"] == name
    )


def wait_for_status(client: Any, rg: str, cloud: str, link: str, status: str) -> None:
    wait_until(
        lambda: client.cloud_links.get(rg, cloud, link).status == status,
        timeout=10,
        what=f"link {link} to become {status}",
    )


def test_create_poll_read_both_sides_delete(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))
    client = armsim.client(S1)

    link = client.cloud_links.begin_create_or_update(
        "rg-east", "east-1", "to-east-2", CloudLink(linked_cloud=cid("east-2"))
    ).result()

    assert (link.name, link.status, link.linked_cloud) == ("to-east-2", "Active", cid("east-2"))
    assert link.id == cid("east-1") + "/cloudLinks/to-east-2"
    puts = armsim.admin.calls("cloudLinks.put")
    assert [c["status"] for c in puts] == [201]
    assert armsim.admin.call_counts()["operation.poll"] >= 1
    assert [lk.name for lk in client.cloud_links.list("rg-east", "east-1")] == ["to-east-2"]
    assert list(client.cloud_links.list("rg-east", "east-2")) == []  # the link lives on the source only
    assert client.private_clouds.get("rg-east", "east-2").external_cloud_links == [cid("east-1")]
    assert client.private_clouds.get("rg-east", "east-1").external_cloud_links == []

    assert client.cloud_links.begin_delete("rg-east", "east-1", "to-east-2").result() is None

    assert [c["status"] for c in armsim.admin.calls("cloudLinks.delete")] == [202]
    with pytest.raises(ResourceNotFoundError) as err:
        client.cloud_links.get("rg-east", "east-1", "to-east-2")
    assert err.value.error.code == "ResourceNotFound"
    assert client.private_clouds.get("rg-east", "east-2").external_cloud_links == []


def test_lro_can_finish_while_the_link_is_still_building(armsim: ArmSim) -> None:
    doc = fleet_doc("contract")
    doc["settings"] |= {"lroCompletion": "accepted", "buildSeconds": 1}  # margin for a busy machine
    armsim.load(doc)
    client = armsim.client(S1)

    link = client.cloud_links.begin_create_or_update("rg-east", "east-1", "l1", link_body(cid("east-2"))).result()

    assert link.status == "Building"
    wait_for_status(client, "rg-east", "east-1", "l1", "Active")
    assert client.cloud_links.get("rg-east", "east-1", "l1").provisioning_state == "Succeeded"


def test_delete_shows_deleting_until_gone(armsim: ArmSim) -> None:
    doc = fleet_doc("contract")
    doc["settings"] |= {"lroCompletion": "accepted", "deleteSeconds": 1}  # margin for a busy machine
    cloud_doc(doc, "east-1")["links"] = [{"target": "east-2", "name": "l1"}]
    armsim.load(doc)
    client = armsim.client(S1)

    client.cloud_links.begin_delete("rg-east", "east-1", "l1").result()

    assert client.cloud_links.get("rg-east", "east-1", "l1").status == "Deleting"
    assert client.private_clouds.get("rg-east", "east-2").external_cloud_links == [cid("east-1")]
    wait_until(lambda: not list(client.cloud_links.list("rg-east", "east-1")), timeout=10, what="link gone")
    assert client.private_clouds.get("rg-east", "east-2").external_cloud_links == []


def test_delete_of_an_absent_link_is_204_and_succeeds(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))

    assert armsim.client(S1).cloud_links.begin_delete("rg-east", "east-1", "never-made").result() is None

    assert [c["status"] for c in armsim.admin.calls("cloudLinks.delete")] == [204]
    assert armsim.admin.call_counts()["operation.poll"] == 0


def test_put_of_an_existing_link_answers_200_with_its_state(armsim: ArmSim) -> None:
    doc = fleet_doc("contract")
    cloud_doc(doc, "east-1")["links"] = [{"target": "east-2", "name": "l1", "status": "Disconnected"}]
    armsim.load(doc)

    link = (
        armsim.client(S1)
        .cloud_links.begin_create_or_update("rg-east", "east-1", "l1", link_body(cid("east-2").upper()))
        .result()
    )

    assert link.status == "Disconnected"
    assert [c["status"] for c in armsim.admin.calls("cloudLinks.put")] == [200]


def test_put_of_an_existing_name_with_another_target_conflicts(armsim: ArmSim) -> None:
    doc = fleet_doc("contract")
    cloud_doc(doc, "east-1")["links"] = [{"target": "east-2", "name": "l1"}]
    armsim.load(doc)

    with pytest.raises(ResourceExistsError) as err:
        armsim.client(S1).cloud_links.begin_create_or_update("rg-east", "east-1", "l1", link_body(cid("east-custom")))

    assert (err.value.status_code, err.value.error.code) == (409, "CloudLinkConflict")


def _hub_with_ten_links() -> dict[str, Any]:
    doc = fleet_doc("contract")
    rg = doc["subscriptions"][0]["resourceGroups"][0]
    rg["privateClouds"] += [
        {"name": f"spoke-{i}", "location": "eastus", "networkBlock": f"10.{100 + i}.0.0/22"} for i in range(11)
    ]
    # Outgoing and incoming both count: 6 links out of east-1, 4 into it.
    cloud_doc(doc, "east-1")["links"] = [{"target": f"spoke-{i}"} for i in range(6)]
    for i in range(6, 10):
        cloud_doc(doc, f"spoke-{i}")["links"] = [{"target": "east-1"}]
    return doc


@pytest.mark.parametrize(
    ("source", "name", "body", "status", "code"),
    [
        ("east-1", "l11", link_body(cid("spoke-10")), 400, "CloudLinkLimitExceeded"),
        ("spoke-10", "l11", link_body(cid("east-1")), 400, "CloudLinkLimitExceeded"),
        ("east-1", "l", link_body(cid("west-1", rg="rg-west")), 400, "CloudLinkCrossRegionNotSupported"),
        ("east-2", "l", link_body(cid("nowhere")), 400, "LinkedCloudNotFound"),
        (
            "east-2",
            "l",
            link_body(cid("east-1", sub="cccccccc-0000-0000-0000-000000000003")),
            400,
            "LinkedCloudNotFound",
        ),
        ("east-readonly", "l", link_body(cid("east-2")), 403, "AuthorizationFailed"),
        ("east-custom", "l", link_body(cid("east-2")), 403, "AuthorizationFailed"),
        ("east-2", "l", link_body(cid("east-readonly")), 403, "LinkedAuthorizationFailed"),
        ("east-2", "l", link_body(cid("east-updating")), 409, "PrivateCloudNotSucceeded"),
        ("east-2", "l", link_body(cid("east-2")), 400, "CloudLinkToSelfNotSupported"),
        ("spoke-0", "back", link_body(cid("east-1")), 409, "CloudLinkAlreadyExists"),
        ("east-2", "bad name!", link_body(cid("spoke-0")), 400, "InvalidResourceName"),
        ("east-2", "l", {"properties": {}}, 400, "InvalidRequestContent"),
        (
            "east-2",
            "l",
            link_body("/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/vnets/z"),
            400,
            "InvalidRequestContent",
        ),
        ("missing", "l", link_body(cid("east-2")), 404, "ParentResourceNotFound"),
    ],
)
def test_service_refusals_surface_as_http_response_errors(
    armsim: ArmSim, source: str, name: str, body: dict[str, Any], status: int, code: str
) -> None:
    armsim.load(_hub_with_ten_links())

    with pytest.raises(HttpResponseError) as err:
        armsim.client(S1).cloud_links.begin_create_or_update("rg-east", source, name, body)

    assert (err.value.status_code, err.value.error.code) == (status, code)
    assert "cloudLinks.put" in armsim.admin.call_counts()


def test_cross_subscription_link_in_the_same_region_is_allowed(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))

    link = (
        armsim.client(S2)
        .cloud_links.begin_create_or_update("rg-other", "other-1", "to-east-1", link_body(cid("east-1")))
        .result()
    )

    assert link.status == "Active"
    assert armsim.client(S1).private_clouds.get("rg-east", "east-1").external_cloud_links == [
        cid("other-1", rg="rg-other", sub=S2)
    ]


def test_unknown_resources_are_arm_404s(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))
    expectations = [
        (lambda: armsim.client(S1).private_clouds.get("rg-east", "nope"), "ResourceNotFound"),
        (lambda: armsim.client(S1).private_clouds.get("rg-nope", "east-1"), "ResourceGroupNotFound"),
        (lambda: armsim.client(S1).cloud_links.get("rg-east", "east-1", "nope"), "ResourceNotFound"),
        (lambda: list(armsim.client(S1).cloud_links.list("rg-east", "nope")), "ParentResourceNotFound"),
        (
            lambda: list(armsim.client("cccccccc-0000-0000-0000-000000000003").private_clouds.list_in_subscription()),
            "SubscriptionNotFound",
        ),
    ]
    for call, code in expectations:
        with pytest.raises(ResourceNotFoundError) as err:
            call()
        assert err.value.error.code == code


def test_private_cloud_body_has_the_routed_address_space(armsim: ArmSim) -> None:
    doc = fleet_doc("contract")
    cloud_doc(doc, "east-1").update(
        {
            "extendedNetworkBlocks": ["10.1.4.0/23"],
            "secondaryCircuit": {"primarySubnet": "10.250.1.0/30", "secondarySubnet": "10.250.1.4/30"},
        }
    )
    armsim.load(doc)

    pc = armsim.client(S1).private_clouds.get("rg-east", "east-1")

    assert (pc.id, pc.name, pc.type, pc.location, pc.sku.name) == (
        cid("east-1"),
        "east-1",
        "Microsoft.AVS/privateClouds",
        "eastus",
        "AV36P",
    )
    assert (pc.provisioning_state, pc.network_block, pc.extended_network_blocks) == (
        "Succeeded",
        "10.1.0.0/22",
        ["10.1.4.0/23"],
    )
    assert (pc.circuit.primary_subnet, pc.circuit.secondary_subnet) == ("10.250.0.0/30", "10.250.0.4/30")
    assert pc.circuit.express_route_id.startswith(f"/subscriptions/{S1}/resourceGroups/")
    assert pc.secondary_circuit.primary_subnet == "10.250.1.0/30"
    assert armsim.client(S1).private_clouds.get("rg-east", "east-updating").provisioning_state == "Updating"


def test_segments_and_global_reach(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))
    client = armsim.client(S1)

    segments = {s.name: s for s in client.workload_networks.list_segments("rg-east", "east-1")}
    reach = list(client.global_reach_connections.list("rg-east", "east-1"))

    assert segments["routed"].properties.subnet.gateway_address == "10.101.0.1/24"
    assert segments["routed"].properties.connected_gateway == "/infra/tier-1s/T1"
    assert segments["routed"].properties.status == "SUCCESS"
    assert segments["isolated"].properties.connected_gateway is None
    assert segments["routed"].id == cid("east-1") + "/workloadNetworks/default/segments/routed"
    assert [(g.name, g.properties.address_prefix, g.properties.circuit_connection_status) for g in reach] == [
        ("onprem", "10.250.8.0/29", "Connected")
    ]
    assert list(client.workload_networks.list_segments("rg-east", "east-2")) == []


@pytest.mark.parametrize(
    ("cloud", "expected"),
    [
        (
            "east-1",
            [{"actions": ["Microsoft.AVS/privateClouds/*"], "notActions": [], "dataActions": [], "notDataActions": []}],
        ),
        (
            "east-readonly",
            [{"actions": ["Microsoft.AVS/*/read"], "notActions": [], "dataActions": [], "notDataActions": []}],
        ),
        (
            "east-custom",
            [
                {
                    "actions": ["*"],
                    "notActions": ["Microsoft.AVS/privateClouds/cloudLinks/write"],
                    "dataActions": [],
                    "notDataActions": [],
                }
            ],
        ),
    ],
)
def test_permissions_through_send_request(armsim: ArmSim, cloud: str, expected: list[dict[str, Any]]) -> None:
    armsim.load(fleet_doc("contract"))

    response = armsim.client(S1).send_request(
        HttpRequest(
            "GET",
            cid(cloud) + "/providers/Microsoft.Authorization/permissions",
            params={"api-version": PERMISSIONS_API},
        )
    )

    assert response.status_code == 200
    assert response.json() == {"value": expected}
    assert armsim.admin.call_counts() == {"permissions.list": 1}


def test_ids_are_case_insensitive(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))
    client = armsim.client(S1.upper())
    odd = f"/subscriptions/{S1}/resourcegroups/RG-EAST/providers/microsoft.avs/privateclouds/EAST-2"

    assert client.private_clouds.get("RG-East", "EAST-1").id == cid("east-1")  # stored casing comes back
    response = client.send_request(HttpRequest("GET", odd, params={"api-version": "2026-03-01"}))
    assert (response.status_code, response.json()["name"]) == (200, "east-2")
    link = client.cloud_links.begin_create_or_update("rg-EAST", "East-1", "L1", link_body(odd.lower())).result()
    assert (link.name, link.linked_cloud) == ("L1", odd.lower())  # ARM keeps what the creator wrote
    assert client.cloud_links.get("rg-east", "east-1", "l1").status == "Active"
    assert client.private_clouds.get("rg-east", "east-2").external_cloud_links == [cid("east-1")]


def test_missing_api_version_is_refused(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))

    response = armsim.client(S1).send_request(HttpRequest("GET", cid("east-1")))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MissingApiVersionParameter"


def test_paging_is_followed_for_clouds_and_links(armsim: ArmSim) -> None:
    doc = _hub_with_ten_links()  # pageSize 2 in the contract fleet
    armsim.load(doc)
    client = armsim.client(S1)

    clouds = [pc.name for pc in client.private_clouds.list_in_subscription()]
    in_group = [pc.name for pc in client.private_clouds.list("rg-east")]
    links = [lk.name for lk in client.cloud_links.list("rg-east", "east-1")]

    assert clouds == [*in_group, "west-1"]
    assert len(in_group) == 6 + 11
    assert links == [f"spoke-{i}" for i in range(6)]
    counts = armsim.admin.call_counts()
    assert counts["privateClouds.listInSubscription"] == math.ceil(18 / 2)
    assert counts["privateClouds.list"] == math.ceil(17 / 2)
    assert counts["cloudLinks.list"] == 3


@settings(max_examples=15, deadline=None)
@given(clouds=st.integers(min_value=0, max_value=9), page_size=st.integers(min_value=1, max_value=4))
def test_paging_returns_every_cloud_once_for_any_page_size(
    armsim_admin: ArmSimAdmin, clouds: int, page_size: int
) -> None:
    armsim_admin.load_fleet(
        {
            "settings": {"pageSize": page_size},
            "subscriptions": [
                {
                    "id": S1,
                    "resourceGroups": [
                        {
                            "name": "rg",
                            "privateClouds": [
                                {"name": f"pc-{i}", "location": "eastus", "networkBlock": f"10.{i}.0.0/22"}
                                for i in range(clouds)
                            ],
                        }
                    ],
                }
            ],
        }
    )
    with sim_avs_client(armsim_admin.base_url, S1) as client:
        names = [pc.name for pc in client.private_clouds.list("rg")]

    assert names == [f"pc-{i}" for i in range(clouds)]
    assert armsim_admin.call_counts()["privateClouds.list"] == max(1, math.ceil(clouds / page_size))


def test_call_log_counts_each_kind(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))
    client = armsim.client(S1)

    client.private_clouds.get("rg-east", "east-1")
    client.private_clouds.get("rg-east", "east-2")
    list(client.cloud_links.list("rg-east", "east-1"))
    list(client.workload_networks.list_segments("rg-east", "east-1"))
    list(client.global_reach_connections.list("rg-east", "east-1"))
    client.cloud_links.begin_delete("rg-east", "east-1", "none").result()

    assert armsim.admin.call_counts() == {
        "privateClouds.get": 2,
        "cloudLinks.list": 1,
        "segments.list": 1,
        "globalReach.list": 1,
        "cloudLinks.delete": 1,
    }
    entry = armsim.admin.calls("privateClouds.get")[0]
    assert (entry["method"], entry["path"], entry["status"], entry["subscription"]) == ("GET", cid("east-1"), 200, S1)
    assert entry["query"].startswith("api-version=")
    armsim.admin.clear_calls()
    assert armsim.admin.calls() == []


def test_simulator_listens_with_the_demo_fleet_once_started() -> None:
    # How fast it starts is a figure for bench/startup.py, not a gate for a merge.
    port = free_port()
    with service(port, DEMO_FLEET):
        assert port_open(port)
    assert not port_open(port)
