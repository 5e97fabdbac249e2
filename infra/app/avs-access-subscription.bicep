// Assigns the AVS custom role (avs-role.bicep) to the app's identity on one subscription.
targetScope = 'subscription'

param principalId string
param roleDefinitionName string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionName)
  properties: {
    // A custom role is addressed through the subscription it is assigned in (it lists that scope).
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
