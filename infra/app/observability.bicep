// What needs a person, as Azure Monitor alert rules sent to an action group, and a workbook of the app's metrics.
// Both read the metrics the app exports with the Azure Monitor OpenTelemetry distro, which lands each one in the
// Application Insights `customMetrics` table: `name` is the instrument's name, `valueSum`/`valueCount`/`valueMax`
// the aggregate of one export interval (counters and histograms are exported as deltas; a counter's or a gauge's
// value is `valueSum`, with no min or max), `customDimensions` its attributes as strings (docs/azure-monitor.md §1.1). Every
// name and attribute used below is one interconnect/adapters/metrics.py declares (tests/infra/test_observability.py).
param applicationInsightsName string
param location string
param tags object
@description('Resource id of the action group alerts go to; empty: the rules fire in the portal only.')
param actionGroupId string = ''
@description('The approval window in seconds: a request waiting for approval longer than this is stuck.')
param approvalDeadlineSeconds int
@description('Name of the workbook resource (a GUID).')
param workbookName string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

var actions = empty(actionGroupId) ? {} : {
  actionGroups: [
    actionGroupId
  ]
}

// One rule per thing that needs a person. Each query yields a number per row; the rule fires when it is > 0.
// The findings rule looks back two hours because the audit runs hourly by default (auditSchedule): an open
// finding is counted again at every run, and one resolved stops counting at the next.
var alertRules = [
  {
    name: 'critical-audit-finding'
    displayName: 'interconnect: a critical audit finding is open'
    description: 'The last audit run found a critical problem (a link not Active, an overlap, an unreadable prefix). See the workbook and GET /api/audits/latest.'
    severity: 1
    frequency: 'PT15M'
    window: 'PT2H'
    measure: 'findings'
    dimensions: [
      {
        name: 'code'
        operator: 'Include'
        values: [
          '*'
        ]
      }
    ]
    query: '''
customMetrics
| where name == 'interconnect.audit.findings'
| where tostring(customDimensions['interconnect.finding.severity']) == 'critical'
| summarize findings = sum(valueSum) by code = tostring(customDimensions['interconnect.finding.code'])
'''
  }
  {
    name: 'dead-lettered-or-set-aside'
    displayName: 'interconnect: messages dead-lettered or set aside'
    description: 'Service Bus dead-lettered a work item, or the worker set a message aside in the quarantine: a person must look (the sweeper fails the request of a dead-lettered work item; what it cannot read stays there).'
    severity: 2
    frequency: 'PT5M'
    window: 'PT15M'
    measure: 'messages'
    dimensions: [
      {
        name: 'metric'
        operator: 'Include'
        values: [
          '*'
        ]
      }
    ]
    query: '''
customMetrics
| where name in ('interconnect.messages.dead_lettered', 'interconnect.messages.set_aside')
| summarize messages = sum(valueSum) by metric = name
'''
  }
  {
    name: 'request-stuck'
    displayName: 'interconnect: a request is stuck past its deadline'
    description: 'The audit found a request that has not moved past its staleness threshold (STALE_REQUEST), or a request has waited for approval past its approval deadline.'
    severity: 2
    frequency: 'PT15M'
    window: 'PT2H'
    measure: 'stuck'
    dimensions: []
    query: format('''
customMetrics
| where (name == 'interconnect.audit.findings' and tostring(customDimensions['interconnect.finding.code']) == 'STALE_REQUEST')
    or (name == 'interconnect.approvals.age' and valueSum > {0})
| summarize stuck = count()
''', approvalDeadlineSeconds)
  }
  {
    name: 'arm-authorization-failures'
    displayName: 'interconnect: ARM refuses the app (401/403)'
    description: 'ARM answered 401 or 403 to the app identity: a role assignment is missing or was removed (see the AVS role in infra/app/avs-role.bicep).'
    severity: 1
    frequency: 'PT5M'
    window: 'PT15M'
    measure: 'calls'
    dimensions: [
      {
        name: 'call'
        operator: 'Include'
        values: [
          '*'
        ]
      }
    ]
    query: '''
customMetrics
| where name == 'interconnect.arm.calls'
| where toint(customDimensions['http.response.status_code']) in (401, 403)
| summarize calls = sum(valueSum) by call = tostring(customDimensions['interconnect.arm.call'])
'''
  }
]

resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in alertRules: {
  name: 'interconnect-${rule.name}-${applicationInsights.name}'
  location: location
  tags: tags
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      applicationInsights.id
    ]
    evaluationFrequency: rule.frequency
    windowSize: rule.window
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Total'
          metricMeasureColumn: rule.measure
          dimensions: rule.dimensions
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: actions
  }
}]

// The workbook: one chart per metric, over the last 7 days (a person can change the range in the portal).
var hourly = 3600000
var charts = [
  {
    title: 'Requests by outcome (final status)'
    visualization: 'timechart'
    query: '''
customMetrics
| where name == 'interconnect.requests'
| summarize requests = sum(valueSum) by outcome = tostring(customDimensions['interconnect.request.outcome']), bin(timestamp, 1h)
'''
  }
  {
    title: 'Requests by action, channel and outcome'
    visualization: 'table'
    query: '''
customMetrics
| where name == 'interconnect.requests'
| summarize requests = sum(valueSum) by action = tostring(customDimensions['interconnect.request.action']), channel = tostring(customDimensions['interconnect.channel']), outcome = tostring(customDimensions['interconnect.request.outcome'])
| order by requests desc
'''
  }
  {
    title: 'Decision time, accepted to decided (s): mean and max'
    visualization: 'timechart'
    query: '''
customMetrics
| where name == 'interconnect.request.decision.duration'
| summarize mean = sum(valueSum) / sum(valueCount), max = max(valueMax) by action = tostring(customDimensions['interconnect.request.action']), bin(timestamp, 1h)
'''
  }
  {
    title: 'Time from acceptance to final status (s): mean and max'
    visualization: 'timechart'
    query: '''
customMetrics
| where name == 'interconnect.request.duration'
| summarize mean = sum(valueSum) / sum(valueCount), max = max(valueMax) by outcome = tostring(customDimensions['interconnect.request.outcome']), bin(timestamp, 1h)
'''
  }
  {
    title: 'Time from ARM done to recorded (s, at most): mean and max'
    visualization: 'timechart'
    query: '''
customMetrics
| where name == 'interconnect.operation.recording.delay'
| summarize mean = sum(valueSum) / sum(valueCount), max = max(valueMax) by verb = tostring(customDimensions['interconnect.operation.verb']), bin(timestamp, 1h)
'''
  }
  {
    title: 'ARM calls by status (429: throttled)'
    visualization: 'timechart'
    query: '''
customMetrics
| where name == 'interconnect.arm.calls'
| summarize calls = sum(valueSum) by status = tostring(customDimensions['http.response.status_code']), bin(timestamp, 1h)
'''
  }
  {
    title: 'ARM calls by call and status'
    visualization: 'table'
    query: '''
customMetrics
| where name == 'interconnect.arm.calls'
| summarize calls = sum(valueSum) by call = tostring(customDimensions['interconnect.arm.call']), status = toint(customDimensions['http.response.status_code'])
| order by calls desc
'''
  }
  {
    title: 'Approvals waiting, and the oldest one\'s age (s)'
    visualization: 'timechart'
    query: '''
customMetrics
| where name in ('interconnect.approvals.waiting', 'interconnect.approvals.age')
| summarize value = max(valueSum) by name, bin(timestamp, 1h)
'''
  }
  {
    title: 'Audit findings by code and severity (per run)'
    visualization: 'table'
    query: '''
customMetrics
| where name == 'interconnect.audit.findings'
| summarize findings = sum(valueSum) by run = bin(timestamp, 1h), code = tostring(customDimensions['interconnect.finding.code']), severity = tostring(customDimensions['interconnect.finding.severity'])
| order by run desc, findings desc
'''
  }
  {
    title: 'Dead-lettered and set-aside messages'
    visualization: 'timechart'
    query: '''
customMetrics
| where name in ('interconnect.messages.dead_lettered', 'interconnect.messages.set_aside')
| summarize messages = sum(valueSum) by name, bin(timestamp, 1h)
'''
  }
]

var workbookContent = {
  version: 'Notebook/1.0'
  items: concat([
    {
      type: 1
      name: 'about'
      content: {
        json: '## interconnect\nRequests, decisions, ARM calls, approvals, audit findings and set-aside messages, from the app\'s OpenTelemetry metrics. Alerts: the rules named interconnect-* in this resource group.'
      }
    }
  ], [for (chart, i) in charts: {
    type: 3
    name: 'chart-${i}'
    content: {
      version: 'KqlItem/1.0'
      title: chart.title
      query: chart.query
      size: 0
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: chart.visualization
      timeContext: {
        durationMs: 7 * 24 * hourly
      }
    }
  }])
  isLocked: false
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: workbookName
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'interconnect: requests, ARM and audit'
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: string(workbookContent)
  }
}

output workbookId string = workbook.id
output alertRuleNames array = [for (rule, i) in alertRules: alerts[i].name]
