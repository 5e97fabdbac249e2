// interconnect on Azure: one `azd up` creates the resource group, the Flex Consumption function app and
// everything it talks to, with identity-based connections only (no keys, no connection strings), and
// grants the app's identity a custom AVS role on the subscriptions / resource groups that hold the
// private clouds it may link. Layout and conventions follow the azd Functions quickstarts; every module
// is a plain local file (no br/public registry modules) so tests/infra can check it offline.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the resource names and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Region for every resource. Must offer Flex Consumption; it need not be the private clouds\' region.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the user or service principal running azd; used only when grantDeployerAccess is true.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
@description('Kind of principal principalId is.')
param principalType string = 'User'

@description('Also grant principalId Key Vault Secrets Officer (to store channel secrets) and Storage Table Data Reader (to read the audit trail).')
param grantDeployerAccess bool = false

@description('Subscriptions (GUIDs or /subscriptions/<GUID>) whose private clouds the app may read and link.')
param avsSubscriptionIds array = []

@description('Resource groups (/subscriptions/<GUID>/resourceGroups/<name>) whose private clouds the app may read and link.')
param avsResourceGroupIds array = []

// Flex bounds the instance count from 40 up (docs/functions-platform.md §2). Every instance runs
// maxConcurrentCalls (host.json) ARM workers, so keep this low: ARM throttles per identity and subscription.
@minValue(40)
@maxValue(1000)
@description('Upper bound on Flex Consumption instances.')
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
@description('Memory per Flex Consumption instance (MB).')
param instanceMemoryMB int = 2048

// Flex starts HTTP instances on demand: after an idle spell the first request pays a host and worker start.
// Slack wants its acknowledgement within 3 s, host start included; always-ready instances of the `http` group
// remove that start at a fixed price (README, "Cold start and always-ready instances").
@minValue(0)
@maxValue(20)
@description('Always-ready instances of the HTTP function group (0: on demand only, the cheapest).')
param httpAlwaysReadyInstances int = 0

@minValue(1)
@description('INTERCONNECT_POLL_INTERVAL_SECONDS: first delay between follow-up checks of a link operation.')
param pollIntervalSeconds int = 30

@minValue(1)
@description('INTERCONNECT_OPERATION_TIMEOUT_MINUTES: a link operation still running after this fails.')
param operationTimeoutMinutes int = 120

@minValue(1)
@description('INTERCONNECT_STALE_MINUTES: a request that has not moved for this long is re-driven by the sweeper.')
param staleMinutes int = 10

@description('INTERCONNECT_SWEEP_SCHEDULE: NCRONTAB schedule of the sweeper timer (six fields, seconds first).')
param sweepSchedule string = '0 */5 * * * *'

@description('INTERCONNECT_APPROVALS: every disconnect waits for a second person (two-person rule) when true.')
param approvals bool = true

@minValue(1)
@description('INTERCONNECT_APPROVAL_MINUTES: how long a disconnect may wait for approval before it expires.')
param approvalMinutes int = 60

@description('INTERCONNECT_AUDIT_SCHEDULE: NCRONTAB schedule of the audit timer (six fields, seconds first).')
param auditSchedule string = '0 0 * * * *'

@minValue(1)
@description('INTERCONNECT_STUCK_MINUTES: a link Building or Deleting longer than this is a LINK_STUCK finding.')
param stuckMinutes int = 60

@minValue(1)
@description('INTERCONNECT_AUDIT_CONCURRENCY: parallel ARM reads per subscription during an audit.')
param auditConcurrency int = 8

@description('INTERCONNECT_HOOKS: ticketing webhook sources (no secrets), e.g. {"jira-prod": {"type": "jira", "callback": {"url": "https://acme.atlassian.net"}}}; see README, Channels.')
param hooks object = {}

@description('Set once the channel secrets (hook-secrets, slack-signing-secrets, teams-secrets, teams-workflow-url) are in the Key Vault: the app settings then reference them.')
param enableChannels bool = false

@description('INTERCONNECT_POLICY: the requester policy as an object ({"rules": [...]}, see README); empty = the default policy.')
param requesterPolicy object = {}

// Purge protection is the safe default for a vault holding webhook secrets, but it means a vault deleted by
// `azd down` keeps its name for the whole retention period (see infra/README.md, "Roll back").
@description('Key Vault purge protection (cannot be turned off once on).')
param keyVaultPurgeProtection bool = true

@minValue(7)
@maxValue(90)
@description('Days a deleted vault or secret stays recoverable.')
param keyVaultSoftDeleteRetentionDays int = 90

@description('Put a CanNotDelete lock on the storage account, so `azd down` cannot drop the audit trail.')
param lockAuditStorage bool = false

// People sign in with Microsoft Entra ID and the app verifies their access tokens itself (README, Security):
// App Service Authentication stays off. The app registration that defines the API and its app roles
// (infra/app-roles.json) is created by the deployer before `azd up` (infra/README.md, "Sign-in"); this
// template only points the app at it, so a deployment needs no Microsoft Graph permissions.
@minLength(36)
@maxLength(36)
@description('Client (application) id of the API\'s app registration: the audience of v2 access tokens (INTERCONNECT_AUTH_AUDIENCE).')
param authClientId string

@minLength(36)
@maxLength(36)
@description('Tenant whose Entra ID signs the tokens the API accepts (INTERCONNECT_AUTH_ISSUER); default: this deployment\'s tenant.')
param authTenantId string = tenant().tenantId

@description('A further accepted audience, e.g. the Application ID URI api://interconnect (v1 tokens); empty: the client id only.')
param authAudience string = ''

// The web console (<app>/api/console) signs people in as a single-page app: the authorization code flow with
// PKCE against this tenant. By default with the API's own registration, which then also lists the console's URL
// as an SPA redirect URI (infra/README.md, "Sign-in"; Bicep cannot set it without the Graph extension).
@maxLength(36)
@description('Client id of the console\'s app registration (INTERCONNECT_CONSOLE_CLIENT_ID); empty: the API\'s own (authClientId).')
param authConsoleClientId string = ''

// Alerts on what needs a person (a critical audit finding, dead-lettered or set-aside messages, a stuck request,
// ARM refusing the app) go to this action group (app/observability.bicep).
@description('Resource id of the Azure Monitor action group the alert rules notify; empty: alerts show in the portal only.')
param alertActionGroupId string = ''

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var serviceName = 'api' // the service in azure.yaml
var functionAppName = '${abbrs.webSitesFunctions}interconnect-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

// AVS scopes, normalised: a subscription may be given as a GUID or as its id.
var avsSubscriptions = [for s in avsSubscriptionIds: last(split(s, '/'))]
var avsSubscriptionScopes = [for s in avsSubscriptions: '/subscriptions/${s}']
var avsAssignableScopes = concat(avsSubscriptionScopes, avsResourceGroupIds)
// A custom role is a tenant-wide object; it is created in the subscription of its first assignable scope.
var avsFirstResourceGroupSubscription = empty(avsResourceGroupIds) ? subscription().subscriptionId : split(avsResourceGroupIds[0], '/')[2]
var avsRoleHomeSubscription = empty(avsSubscriptions) ? avsFirstResourceGroupSubscription : avsSubscriptions[0]
var avsRoleDefinitionName = guid('interconnect-avs-link-operator', environmentName, resourceToken)

resource rg 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}interconnect-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module observability 'app/observability.bicep' = {
  name: 'observability'
  scope: rg
  params: {
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    location: location
    tags: tags
    actionGroupId: alertActionGroupId
    approvalDeadlineSeconds: approvalMinutes * 60
    workbookName: guid(rg.id, 'interconnect-workbook')
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    lockAccount: lockAuditStorage
  }
}

module serviceBus 'app/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: '${abbrs.serviceBusNamespaces}${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    purgeProtection: keyVaultPurgeProtection
    softDeleteRetentionDays: keyVaultSoftDeleteRetentionDays
  }
}

module api 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    serviceName: serviceName
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    tablesEndpoint: storage.outputs.tableEndpoint
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    serviceBusNamespace: serviceBus.outputs.fullyQualifiedNamespace
    queueName: serviceBus.outputs.requestQueueName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    httpAlwaysReadyInstances: httpAlwaysReadyInstances
    pollIntervalSeconds: pollIntervalSeconds
    operationTimeoutMinutes: operationTimeoutMinutes
    staleMinutes: staleMinutes
    sweepSchedule: sweepSchedule
    approvals: approvals
    approvalMinutes: approvalMinutes
    requesterPolicy: empty(requesterPolicy) ? '' : string(requesterPolicy)
    hooks: empty(hooks) ? '' : string(hooks)
    enableChannels: enableChannels
    auditSchedule: auditSchedule
    stuckMinutes: stuckMinutes
    auditConcurrency: auditConcurrency
    keyVaultName: keyVault.outputs.name
    subscriptions: join(avsSubscriptions, ',')
    // v2 tokens name the tenant's v2.0 issuer; loginEndpoint follows the cloud (public, sovereign).
    authIssuer: '${environment().authentication.loginEndpoint}${authTenantId}/v2.0'
    authAudience: empty(authAudience) ? authClientId : '${authClientId},${authAudience}'
    consoleClientId: empty(authConsoleClientId) ? authClientId : authConsoleClientId
  }
}

// Data-plane roles of the app (and optionally of the deployer), each on the narrowest scope that works.
module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    queueNames: serviceBus.outputs.queueNames
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    deployerPrincipalId: grantDeployerAccess ? principalId : ''
    deployerPrincipalType: principalType
  }
}

// AVS: one custom role holding only the actions the app calls, assigned at each listed scope.
module avsRole 'app/avs-role.bicep' = if (!empty(avsAssignableScopes)) {
  name: 'avs-role'
  scope: subscription(avsRoleHomeSubscription)
  params: {
    roleDefinitionName: avsRoleDefinitionName
    roleName: 'interconnect AVS link operator (${environmentName}, ${resourceToken})'
    assignableScopes: avsAssignableScopes
  }
}

// Cross-subscription assignments need one deployment per target scope: a module per subscription...
module avsSubscriptionAccess 'app/avs-access-subscription.bicep' = [for s in avsSubscriptions: {
  name: 'avs-access-${uniqueString(s)}'
  scope: subscription(s)
  params: {
    principalId: identity.outputs.principalId
    roleDefinitionName: avsRoleDefinitionName
  }
  dependsOn: [
    avsRole
  ]
}]

// ...and one per resource group (id = /subscriptions/<sub>/resourceGroups/<name>).
module avsResourceGroupAccess 'app/avs-access-resourcegroup.bicep' = [for id in avsResourceGroupIds: {
  name: 'avs-access-${uniqueString(id)}'
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    principalId: identity.outputs.principalId
    roleDefinitionName: avsRoleDefinitionName
  }
  dependsOn: [
    avsRole
  ]
}]

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AUTH_CLIENT_ID string = authClientId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output AZURE_FUNCTION_URL string = api.outputs.uri
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
// The console's URL: the SPA redirect URI its app registration must list (infra/README.md, "Sign-in").
// The workbook of the app's metrics, one click from the resource group (it is listed there too).
output WORKBOOK_URL string = '${environment().portal}/#@${tenant().tenantId}/resource${observability.outputs.workbookId}/workbook'
output CONSOLE_URL string = '${api.outputs.uri}/api/console'
output AZURE_CLIENT_ID string = identity.outputs.clientId
output AZURE_APP_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output INTERCONNECT_TABLES_ENDPOINT string = storage.outputs.tableEndpoint
output SERVICEBUS_FULLY_QUALIFIED_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output INTERCONNECT_QUEUE_NAME string = serviceBus.outputs.requestQueueName
output AVS_ROLE_DEFINITION_NAME string = empty(avsAssignableScopes) ? '' : avsRoleDefinitionName
output AVS_ASSIGNABLE_SCOPES array = avsAssignableScopes
