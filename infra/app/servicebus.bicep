// The work queue. Standard tier, because the queue needs duplicate detection (message id = request id, and
// numbered follow-up checks) and scheduled messages, which Basic lacks; Premium would add only private
// endpoints and dedicated capacity, at many times the price. Local (SAS) auth is off: identity only.
param name string
param location string
param tags object

// Single source of truth for queue names and properties, shared with the local Service Bus stand-in
// (localdev/queues.json). Bicep reads it at build time, on the deploying machine, so it does not matter that
// localdev/ is not part of the function app package.
var queueConfig = loadJsonContent('../../localdev/queues.json')

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

// Every property of a queue in queues.json is mapped here (tests/infra fails when one is not).
resource queues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [for queue in queueConfig.queues: {
  parent: namespace
  name: queue.name
  properties: {
    lockDuration: queue.lockDuration
    maxDeliveryCount: queue.maxDeliveryCount
    requiresDuplicateDetection: queue.requiresDuplicateDetection
    duplicateDetectionHistoryTimeWindow: queue.duplicateDetectionHistoryTimeWindow
    requiresSession: queue.requiresSession
    deadLetteringOnMessageExpiration: queue.deadLetteringOnMessageExpiration
  }
}]

output name string = namespace.name
// serviceBusEndpoint is https://<name>.servicebus.windows.net:443/ (or the sovereign-cloud equivalent).
output fullyQualifiedNamespace string = replace(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':443/', '')
output queueNames array = [for queue in queueConfig.queues: queue.name]
// The request queue is the first entry of queues.json (tests/infra checks it is the code's default queue).
output requestQueueName string = queueConfig.queues[0].name
