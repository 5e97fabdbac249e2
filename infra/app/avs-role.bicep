// The custom role the app's identity holds on the AVS scopes: exactly the ARM actions interconnect calls,
// nothing that can change a private cloud itself. Deployed in the subscription of the first assignable scope.
//
//   Microsoft.AVS/privateClouds/read                            private_clouds.get: region, state, network
//                                                               blocks, ExpressRoute /30s, externalCloudLinks
//   Microsoft.AVS/privateClouds/workloadNetworks/segments/read  workload_networks.list_segments (routed NSX
//                                                               segments; published operation name)
//   Microsoft.AVS/privateClouds/globalReachConnections/read     global_reach_connections.list (routed prefixes)
//   Microsoft.AVS/privateClouds/cloudLinks/*                    list / get / PUT / DELETE of links (see below)
//   Microsoft.Authorization/permissions/read                    the PERMISSION_DENIED rule reads the app's own
//                                                               permissions on each cloud (permissions API)
//
// cloudLinks: Microsoft publishes no Microsoft.AVS/privateClouds/cloudLinks/* operations (the AVS section of
// the RBAC operations list stops at privateClouds/workloadNetworks/*; docs/avs-api.md §3). By ARM
// convention the RP checks cloudLinks/read, /write and /delete; the wildcard under cloudLinks/ covers those
// and any child the RP may check (an operation status), and nothing outside cloudLinks. It is the narrowest
// pattern that works whatever the exact unpublished names are; the broader fallback some guides give,
// Microsoft.AVS/privateClouds/*, would also allow deleting private clouds and reading admin credentials.
// The app checks write/delete with the same wildcard matching before acting (interconnect/avs/permissions.py).
//
// Not included: Microsoft.AVS/privateClouds/workloadNetworks/read (not a published operation, not called),
// Microsoft.AVS/locations/* (not called), Microsoft.AVS/operations/read (the health check's GET
// /providers/Microsoft.AVS/operations only needs an answer: any status below 500 counts as "ARM reachable"),
// */operationstatuses/read (the app follows a link by GETting it, not by polling the LRO).
// Microsoft.Authorization/permissions/read is included: it is the published action of the permissions API
// (Reader covers it through Microsoft.Authorization/*/read, but the app's identity holds no Reader), it only
// ever reveals the caller's own permissions, and the PERMISSION_DENIED rule cannot be evaluated without it.
targetScope = 'subscription'

@description('The role definition id (a GUID), deterministic per azd environment.')
param roleDefinitionName string
@description('Display name; unique in the tenant.')
param roleName string
@description('Subscriptions and resource groups where the role may be assigned.')
param assignableScopes array

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: roleDefinitionName
  properties: {
    roleName: roleName
    description: 'interconnect: read AVS private clouds and their routed address space; create and delete cloud links.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.AVS/privateClouds/read'
          'Microsoft.AVS/privateClouds/workloadNetworks/segments/read'
          'Microsoft.AVS/privateClouds/globalReachConnections/read'
          'Microsoft.AVS/privateClouds/cloudLinks/*'
          'Microsoft.Authorization/permissions/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: assignableScopes
  }
}

output id string = role.id
