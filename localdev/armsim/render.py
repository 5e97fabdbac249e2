"""The JSON bodies the simulator answers with, shaped like the service's (docs/avs-api.md §2.4).

Kept apart from the state rules so the shapes can be checked against those examples at a glance.
Only fields the fleet describes are emitted; ARM leaves out what it does not have, and so do we.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localdev.armsim.ids import CLOUD_TYPE, GLOBAL_REACH_TYPE, LINK_TYPE, SEGMENT_TYPE

if TYPE_CHECKING:
    from localdev.armsim.fleet import Circuit, GlobalReachConnection, PrivateCloud, Segment
    from localdev.armsim.state import Link, Operation

# CloudLinkProvisioningState knows only terminal values; the examples omit it while Building/Deleting.
_LINK_PROVISIONING = {"Active": "Succeeded", "Disconnected": "Succeeded", "Failed": "Failed"}


def _circuit(cloud: PrivateCloud, circuit: Circuit, role: str) -> dict[str, str]:
    # Every real circuit has an ExpressRoute id; make up a stable one when the fleet does not say.
    er_id = circuit.express_route_id or (
        f"/subscriptions/{cloud.subscription_id}/resourceGroups/tnt-{cloud.name}-{cloud.region}"
        f"/providers/Microsoft.Network/expressRouteCircuits/tnt-{cloud.name}-{role}"
    )
    return {
        "primarySubnet": circuit.primary_subnet,
        "secondarySubnet": circuit.secondary_subnet,
        "expressRouteID": er_id,
        "expressRoutePrivatePeeringID": f"{er_id}/peerings/AzurePrivatePeering",
    }


def cloud(c: PrivateCloud, external_cloud_links: list[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "provisioningState": c.provisioning_state,
        "networkBlock": c.network_block,
        "extendedNetworkBlocks": list(c.extended_network_blocks),
        "externalCloudLinks": external_cloud_links,
    }
    if c.circuit:
        properties["circuit"] = _circuit(c, c.circuit, "xconnect")
    if c.secondary_circuit:
        properties["secondaryCircuit"] = _circuit(c, c.secondary_circuit, "xconnect-secondary")
    return {
        "id": c.id,
        "name": c.name,
        "type": CLOUD_TYPE,
        "location": c.location,
        "tags": {},
        "sku": {"name": c.sku},
        "properties": properties,
    }


def link(cl: Link) -> dict[str, Any]:
    properties = {"status": cl.status, "linkedCloud": cl.linked_cloud}
    if cl.status in _LINK_PROVISIONING:
        properties["provisioningState"] = _LINK_PROVISIONING[cl.status]
    return {"id": cl.id, "name": cl.name, "type": LINK_TYPE, "properties": properties}


def segment(c: PrivateCloud, s: Segment) -> dict[str, Any]:
    subnet: dict[str, Any] = {"gatewayAddress": s.gateway_address}
    if s.dhcp_ranges:
        subnet["dhcpRanges"] = list(s.dhcp_ranges)
    properties: dict[str, Any] = {
        "displayName": s.name,
        "subnet": subnet,
        "status": s.status,
        "provisioningState": "Succeeded",
        "revision": 1,
    }
    if s.connected_gateway:
        properties["connectedGateway"] = s.connected_gateway
    return {
        "id": f"{c.id}/workloadNetworks/default/segments/{s.name}",
        "name": s.name,
        "type": SEGMENT_TYPE,
        "properties": properties,
    }


def global_reach(c: PrivateCloud, g: GlobalReachConnection) -> dict[str, Any]:
    properties = {
        "addressPrefix": g.address_prefix,
        "circuitConnectionStatus": g.circuit_connection_status,
        "provisioningState": "Succeeded",
        "expressRouteId": _circuit(c, c.circuit, "xconnect")["expressRouteID"] if c.circuit else None,
    }
    if g.peer_express_route_circuit:
        properties["peerExpressRouteCircuit"] = g.peer_express_route_circuit
    return {
        "id": f"{c.id}/globalReachConnections/{g.name}",
        "name": g.name,
        "type": GLOBAL_REACH_TYPE,
        "properties": {k: v for k, v in properties.items() if v is not None},
    }


def operation_path(op: Operation, collection: str) -> str:
    """`collection` is `operationStatuses` (Azure-AsyncOperation) or `operationResults` (Location)."""
    return f"/subscriptions/{op.subscription_id}/providers/Microsoft.AVS/locations/{op.location}/{collection}/{op.id}"


def operation(op: Operation) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": operation_path(op, "operationStatuses"),
        "name": op.id,
        "status": op.status,
        "startTime": op.start_time,
    }
    if op.end_time:
        body["endTime"] = op.end_time
    if op.error:
        body["error"] = {"code": op.error[0], "message": op.error[1]}
    return body
