// One storage account for the Functions host (blob: deployment package, keys, timer leases; table:
// host diagnostic events) and for the app's own tables (request rows, audit trail, index, quarantine).
// Shared keys are off: every client, host included, uses the app's identity.
param name string
param location string
param tags object
param deploymentContainerName string
param lockAccount bool

// The app's tables. Must equal the names interconnect/adapters/tables.py, audit_tables.py, quarantine.py and
// topology_tables.py use with an empty INTERCONNECT_TABLE_PREFIX (tests/infra checks it). The app also creates
// them if missing. quarantine holds the queue messages the worker set aside (no work item, or a request it cannot
// read back); topologies the topology documents applied, one per scope, which every audit checks for drift.
var tableNames = [
  'requests'
  'requestindex'
  'audits'
  'auditfindings'
  'auditinventory'
  'quarantine'
  'topologies'
]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// Flex Consumption deploys from this container (functionAppConfig.deployment in function.bicep).
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for table in tableNames: {
  parent: tableService
  name: table
}]

// Table Storage has no soft delete: with lockAccount, deleting the account (e.g. `azd down`) fails until
// someone with Owner removes the lock on purpose.
resource lock 'Microsoft.Authorization/locks@2020-05-01' = if (lockAccount) {
  scope: account
  name: 'keep-audit-trail'
  properties: {
    level: 'CanNotDelete'
    notes: 'Holds the interconnect audit trail, audit runs, set-aside queue messages and registered topologies (tables requests, requestindex, audits, auditfindings, auditinventory, quarantine, topologies).'
  }
}

output name string = account.name
// No trailing slash: the value becomes INTERCONNECT_TABLES_ENDPOINT.
output tableEndpoint string = 'https://${account.name}.table.${environment().suffixes.storage}'
