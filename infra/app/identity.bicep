// The function app's user-assigned identity. User-assigned rather than system-assigned so that every role
// (including the cross-subscription AVS ones) can be granted before the app exists, and survives re-creating it.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
