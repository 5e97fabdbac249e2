// The function app on Flex Consumption (FC1), Python 3.11, running as the user-assigned identity.
// On Flex the runtime and the package location live in functionAppConfig, not in app settings: do NOT add
// FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE, WEBSITE_CONTENT*,
// SCM_DO_BUILD_DURING_DEPLOYMENT (the platform rejects or ignores them; tests/infra forbids them).
param name string
param planName string
param location string
param tags object
@description('azd service name (azure.yaml); azd finds the app by this tag.')
param serviceName string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param tablesEndpoint string
param applicationInsightsName string
param serviceBusNamespace string
param queueName string
param maximumInstanceCount int
param instanceMemoryMB int
@description('Always-ready instances of the `http` group; 0 leaves HTTP functions on demand.')
param httpAlwaysReadyInstances int
param pollIntervalSeconds int
param operationTimeoutMinutes int
param staleMinutes int
param sweepSchedule string
param approvals bool
param approvalMinutes int
param requesterPolicy string
param hooks string
param enableChannels bool
param auditSchedule string
param stuckMinutes int
param auditConcurrency int
param keyVaultName string
param subscriptions string
param authIssuer string
param authAudience string
@description('Client id the web console signs in with (an SPA redirect URI of that registration is <app>/api/console).')
param consoleClientId string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references (@Microsoft.KeyVault(...)) resolve with this identity, not a system one.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // `http` is Flex's name for the group of all HTTP-triggered functions; the queue worker and the timers
        // scale on their own and stay on demand (their latency is not anyone's deadline).
        alwaysReady: httpAlwaysReadyInstances > 0
          ? [
              {
                name: 'http'
                instanceCount: httpAlwaysReadyInstances
              }
            ]
          : []
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Every setting the code reads (interconnect/app/settings.py, %NAME% and connection= in function_app.py) is set
// here, and nothing else except the platform settings allow-listed in tests/infra/test_settings_drift.py.
// Local-only settings (connection strings, the table prefix) are deliberately absent: shared keys are off.
//
// Channel secrets (later issue) follow one pattern: a setting holding a Key Vault reference, e.g.
//   INTERCONNECT_SLACK_SIGNING_SECRET: '@Microsoft.KeyVault(VaultName=<vault>;SecretName=slack-signing-secret)'
// with the secret stored in the vault from keyvault.bicep (AZURE_KEY_VAULT_NAME). Add such a setting only in
// the same change as the code that reads it: the drift test fails on a setting nobody reads.
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: {
    // Host storage, identity-based. Blob: deployment package, function keys, timer and singleton leases.
    // Table: the host's diagnostic events. No queueServiceUri: nothing in the app uses Storage queues
    // (Service Bus carries the work), so the identity gets no Storage Queue role either.
    AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
    AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId

    // Telemetry with Entra auth (local auth is off on the component).
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    // The app's own traces, metrics and logs (interconnect/app/telemetry.py: Azure Monitor's OpenTelemetry
    // distribution, on because the connection string above is set); the worker exports them itself, the host
    // in OpenTelemetry mode (host.json telemetryMode) does not repeat them. Log lines as JSON objects.
    PYTHON_ENABLE_OPENTELEMETRY: 'true'
    INTERCONNECT_TELEMETRY: 'auto'
    INTERCONNECT_LOG_FORMAT: 'json'

    // The trigger's connection (prefix ServiceBusConnection); the app's SDK sender reads the namespace too.
    ServiceBusConnection__fullyQualifiedNamespace: serviceBusNamespace
    ServiceBusConnection__credential: 'managedidentity'
    ServiceBusConnection__clientId: identityClientId
    INTERCONNECT_QUEUE_NAME: queueName

    // Entra sign-in: the app fetches this issuer's signing keys from its OpenID metadata and accepts only
    // RS256 tokens it signed for this audience (interconnect/app/identity.py). App Service Authentication stays
    // off, so the X-MS-CLIENT-PRINCIPAL* headers are never trusted: nothing would strip a client-sent copy.
    INTERCONNECT_AUTH_ISSUER: authIssuer
    INTERCONNECT_AUTH_AUDIENCE: authAudience
    // The web console asks this tenant for a token in the browser (authorization code + PKCE) as this client;
    // its data routes then verify that token like any other. The registration lists the console's URL as an
    // SPA redirect URI (infra/README.md, "Sign-in").
    INTERCONNECT_CONSOLE_CLIENT_ID: consoleClientId

    // The sweeper timer (%INTERCONNECT_SWEEP_SCHEDULE%); its singleton lease is a blob in host storage.
    INTERCONNECT_SWEEP_SCHEDULE: sweepSchedule
    INTERCONNECT_STALE_MINUTES: string(staleMinutes)

    // The two-person rule for disconnects.
    INTERCONNECT_APPROVALS: approvals ? 'on' : 'off'
    INTERCONNECT_APPROVAL_MINUTES: string(approvalMinutes)

    // The app's own clients (DefaultAzureCredential picks the identity by AZURE_CLIENT_ID).
    AZURE_CLIENT_ID: identityClientId
    INTERCONNECT_TABLES_ENDPOINT: tablesEndpoint
    INTERCONNECT_ARM_ENDPOINT: environment().resourceManager
    INTERCONNECT_ARM_AUTH: 'managed-identity'
    INTERCONNECT_POLL_INTERVAL_SECONDS: string(pollIntervalSeconds)
    INTERCONNECT_OPERATION_TIMEOUT_MINUTES: string(operationTimeoutMinutes)
    INTERCONNECT_POLICY: requesterPolicy

    // Channels: sources and the subscriptions whose clouds chat short names resolve against are plain
    // settings; every secret is a Key Vault reference the platform resolves with the app's identity (Key
    // Vault Secrets User), set only once the secrets exist, since an unresolved reference would be read as
    // the secret itself.
    INTERCONNECT_SUBSCRIPTIONS: subscriptions
    INTERCONNECT_HOOKS: hooks
    INTERCONNECT_HOOK_SECRETS: enableChannels ? '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=hook-secrets)' : ''
    INTERCONNECT_SLACK_SIGNING_SECRETS: enableChannels ? '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=slack-signing-secrets)' : ''
    INTERCONNECT_TEAMS_SECRETS: enableChannels ? '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=teams-secrets)' : ''
    INTERCONNECT_AUDIT_NOTIFY_URL: enableChannels ? '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=audit-notify-url)' : ''

    // The audit timer (%INTERCONNECT_AUDIT_SCHEDULE%) and its thresholds.
    INTERCONNECT_AUDIT_SCHEDULE: auditSchedule
    INTERCONNECT_STUCK_MINUTES: string(stuckMinutes)
    INTERCONNECT_AUDIT_CONCURRENCY: string(auditConcurrency)
    INTERCONNECT_TEAMS_WORKFLOW_URL: enableChannels ? '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=teams-workflow-url)' : ''
  }
}

output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
