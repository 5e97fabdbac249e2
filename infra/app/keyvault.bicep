// Vault for channel secrets (webhook signing secret, Slack signing secret, Teams app secret: they arrive with
// the channels). Access is Azure RBAC only (no access policies): the app's identity gets Key Vault Secrets
// User on this vault (rbac.bicep). The app reads secrets through Key Vault references in app settings,
// resolved by the platform with the user-assigned identity (keyVaultReferenceIdentity in function.bicep).
param name string
param location string
param tags object
param purgeProtection bool
param softDeleteRetentionDays int

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionDays
    // ARM refuses an explicit false here: purge protection is either on or absent.
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
