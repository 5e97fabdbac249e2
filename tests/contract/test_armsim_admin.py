"""armsim's control surface: out-of-band changes seen through the real AVSClient, fleet validation,
generated fleets, and the command line.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from localdev.armsim import ArmSimAdminError, Fleet, service
from localdev.armsim.generate import generate_fleet, subscription_id
from localdev.procs import free_port
from tests.contract.test_armsim import S1, cid, cloud_doc, link_body
from tests.plugins.armsim import DEMO_FLEET, ArmSim, fleet_doc

pytestmark = pytest.mark.contract


def test_a_link_made_in_the_portal_shows_on_both_sides(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))
    client = armsim.client(S1)

    made = armsim.admin.add_link("east-1", cid("west-1", rg="rg-west"), name="portal", status="Building")

    assert made["properties"] == {"status": "Building", "linkedCloud": cid("west-1", rg="rg-west")}
    assert [lk.name for lk in client.cloud_links.list("rg-east", "east-1")] == ["portal"]
    assert client.private_clouds.get("rg-west", "west-1").external_cloud_links == [cid("east-1")]
    assert [link["source"] for link in armsim.admin.state()["links"]] == [cid("east-1")]
    assert armsim.admin.call_counts() == {"cloudLinks.list": 1, "privateClouds.get": 1}


def test_link_status_changes_and_out_of_band_removal(armsim: ArmSim) -> None:
    doc = fleet_doc("contract")
    cloud_doc(doc, "east-1")["links"] = [{"target": "east-2", "name": "l1"}]
    armsim.load(doc)
    client = armsim.client(S1)

    armsim.admin.set_link_status("east-1", "l1", "Disconnected")
    assert client.cloud_links.get("rg-east", "east-1", "l1").status == "Disconnected"

    armsim.admin.remove_link(cid("east-1"), "L1")
    assert list(client.cloud_links.list("rg-east", "east-1")) == []
    assert client.private_clouds.get("rg-east", "east-2").external_cloud_links == []


def test_admin_status_change_ends_a_running_create(armsim: ArmSim) -> None:
    doc = fleet_doc("contract")
    doc["faults"] = {"linkOutcomes": [{"link": "l1", "status": "Building"}]}
    armsim.load(doc)
    client = armsim.client(S1)
    poller = client.cloud_links.begin_create_or_update("rg-east", "east-1", "l1", link_body(cid("east-2")))

    armsim.admin.set_link_status("east-1", "l1", "Failed")

    with pytest.raises(HttpResponseError) as err:
        poller.result()
    assert err.value.error.code == "CloudLinkProvisioningFailed"


def test_segment_drift(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))
    client = armsim.client(S1)

    armsim.admin.add_segment(
        "east-2", "new", "10.102.0.1/24", "/infra/tier-1s/T1", dhcpRanges=["10.102.0.10-10.102.0.20"]
    )
    armsim.admin.update_segment("east-1", "routed", connectedGateway=None, status="FAILURE")

    new = next(iter(client.workload_networks.list_segments("rg-east", "east-2")))
    assert (new.name, new.properties.subnet.gateway_address, new.properties.connected_gateway) == (
        "new",
        "10.102.0.1/24",
        "/infra/tier-1s/T1",
    )
    assert new.properties.subnet.dhcp_ranges == ["10.102.0.10-10.102.0.20"]
    routed = next(s for s in client.workload_networks.list_segments("rg-east", "east-1") if s.name == "routed")
    assert (routed.properties.connected_gateway, routed.properties.status) == (None, "FAILURE")
    assert routed.properties.subnet.gateway_address == "10.101.0.1/24"


def test_cloud_changes_apply_to_reads_and_to_the_rules(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))
    client = armsim.client(S1)

    armsim.admin.update_cloud(
        "east-2",
        provisioningState="Updating",
        extendedNetworkBlocks=["10.2.4.0/23"],
        globalReach=[{"name": "gr", "addressPrefix": "10.250.9.0/29"}],
    )
    armsim.admin.update_cloud("east-1", permissions="read")

    east2 = client.private_clouds.get("rg-east", "east-2")
    assert (east2.provisioning_state, east2.extended_network_blocks) == ("Updating", ["10.2.4.0/23"])
    assert [g.name for g in client.global_reach_connections.list("rg-east", "east-2")] == ["gr"]
    with pytest.raises(HttpResponseError) as err:
        client.cloud_links.begin_create_or_update("rg-east", "east-1", "l", link_body(cid("east-3")))
    assert (err.value.status_code, err.value.error.code) == (403, "AuthorizationFailed")


def test_a_refused_cloud_change_changes_nothing(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))

    with pytest.raises(ArmSimAdminError, match="unknown field"):
        armsim.admin.update_cloud("east-2", provisioningState="Updating", location="westus")

    assert armsim.client(S1).private_clouds.get("rg-east", "east-2").provisioning_state == "Succeeded"


def test_a_cloud_without_read_access_is_invisible_and_forbidden(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))
    armsim.admin.update_cloud("east-2", permissions="none")
    client = armsim.client(S1)

    assert "east-2" not in [pc.name for pc in client.private_clouds.list("rg-east")]
    with pytest.raises(HttpResponseError) as err:
        client.private_clouds.get("rg-east", "east-2")
    assert (err.value.status_code, err.value.error.code) == (403, "AuthorizationFailed")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: cloud_doc(d, "east-1").update(links=[{"target": "ghost"}]), "no private cloud named 'ghost'"),
        (lambda d: cloud_doc(d, "east-1").update(links=[{"target": "west-1"}]), "different regions"),
        (lambda d: cloud_doc(d, "east-1").update(links=[{"target": "east-1"}]), "cannot link to itself"),
        (
            lambda d: cloud_doc(d, "east-1").update(
                links=[{"target": "east-2", "name": "x"}, {"target": "east-3", "name": "X"}]
            ),
            "already has a link",
        ),
        (lambda d: cloud_doc(d, "east-2").update(name="east-1"), "duplicate private cloud"),
        (lambda d: cloud_doc(d, "east-1").update(networkBlock="10.1.0.1/22"), "networkBlock: not an IPv4 network"),
        (lambda d: cloud_doc(d, "east-1").update(networkBlock="10.1.0.0/24"), "X <= 22"),
        (lambda d: cloud_doc(d, "east-1").update(netwrkBlock="10.1.0.0/22"), "unknown field(s) ['netwrkBlock']"),
        (lambda d: cloud_doc(d, "east-1").update(permissions="admin"), "unknown preset 'admin'"),
        (
            lambda d: cloud_doc(d, "east-1")["segments"].append({"name": "routed", "gatewayAddress": "1.2.3.4/24"}),
            "duplicate name(s) ['routed']",
        ),
        (lambda d: d["settings"].update(pageSize=0), "settings.pageSize"),
        (lambda d: d["settings"].update(retryAfter=0.5), "settings.retryAfter"),
        (lambda d: d.update(faults={"errors": [{"status": 503, "kinds": ["clouds.get"]}]}), "unknown kind"),
        (lambda d: d.update(faults={"linkOutcomes": [{"status": "Exploded"}]}), "linkOutcomes[0].status"),
        (lambda d: d["subscriptions"].append({"id": S1.upper()}), "duplicate subscription"),
        (
            lambda d: d["subscriptions"][0]["resourceGroups"].append({"name": "RG-EAST"}),
            "resourceGroups[2].name: invalid or duplicate resource group 'RG-EAST'",
        ),
    ],
)
def test_fleets_are_validated_with_the_field_named(armsim: ArmSim, change: Any, message: str) -> None:
    doc = fleet_doc("contract")
    change(doc)

    with pytest.raises(ArmSimAdminError) as err:
        armsim.load(doc)

    assert err.value.status == 400
    assert message in str(err.value)


def test_link_limit_is_validated_in_fleets(armsim: ArmSim) -> None:
    doc = generate_fleet(12, regions=["eastus"], resource_groups_per_subscription=1, linked_fraction=0)
    clouds = doc["subscriptions"][0]["resourceGroups"][0]["privateClouds"]
    clouds[0]["links"] = [{"target": c["name"]} for c in clouds[1:]]

    with pytest.raises(ArmSimAdminError, match="exceed maxLinksPerCloud=10"):
        armsim.load(doc)


def test_ambiguous_short_names_need_full_ids(armsim: ArmSim) -> None:
    doc = fleet_doc("contract")
    doc["subscriptions"][1]["resourceGroups"][0]["privateClouds"].append(
        {"name": "east-2", "location": "eastus", "networkBlock": "10.9.0.0/22"}
    )
    cloud_doc(doc, "east-1")["links"] = [{"target": "east-2"}]

    with pytest.raises(ArmSimAdminError, match="ambiguous"):
        armsim.load(doc)
    cloud_doc(doc, "east-1")["links"] = [{"target": cid("east-2")}]
    armsim.load(doc)


def test_admin_refuses_unknown_endpoints_and_bad_requests(armsim: ArmSim) -> None:
    armsim.load(fleet_doc("contract"))

    with pytest.raises(ArmSimAdminError) as unknown:
        armsim.admin._call("GET", "nope")
    with pytest.raises(ArmSimAdminError, match="has no link named 'zz'"):
        armsim.admin.set_link_status("east-1", "zz", "Active")
    with pytest.raises(ArmSimAdminError, match="already has segment"):
        armsim.admin.add_segment("east-1", "routed", "10.9.9.1/24")

    assert unknown.value.status == 404


def test_a_generated_thousand_cloud_fleet_serves_the_sdk(armsim: ArmSim) -> None:
    doc = generate_fleet(1000, 10, overlapping=4, read_only=10, settings={"pageSize": 50}, seed=3)

    counts = armsim.admin.load_fleet(doc)

    assert (counts["subscriptions"], counts["clouds"]) == (10, 1000)
    assert counts["links"] > 0
    clouds = list(armsim.client(subscription_id(0, seed=3)).private_clouds.list_in_subscription())
    assert len(clouds) == 100
    assert armsim.admin.call_counts()["privateClouds.listInSubscription"] == 2


def test_the_demo_fleet_loads_and_covers_its_promises() -> None:
    fleet = Fleet.load(DEMO_FLEET)

    assert len(fleet.subscriptions) == 2 and 8 <= len(fleet.clouds) <= 12
    assert len({c.region for c in fleet.clouds}) >= 3
    assert {lk.status for lk in fleet.links} >= {"Active", "Building", "Failed", "Disconnected"}
    assert any(c.provisioning_state != "Succeeded" for c in fleet.clouds)
    assert any(not c.permissions or "write" not in str(c.permissions[0].actions) for c in fleet.clouds)
    assert any(s.connected_gateway is None for c in fleet.clouds for s in c.segments)
    assert any(c.global_reach for c in fleet.clouds)


def test_the_command_line_refuses_an_invalid_fleet_file(tmp_path: Any) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("subscriptions: [{id: s, resourceGroups: [{name: rg, privateClouds: [{name: a}]}]}]\n")
    log = tmp_path / "armsim.log"

    with pytest.raises(RuntimeError, match="exited with code 2"):
        service(free_port(), bad, log_path=log).start(ready_timeout=10)

    assert "privateClouds[0].location: required" in log.read_text()
