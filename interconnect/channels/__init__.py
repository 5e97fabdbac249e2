"""Jira, ServiceNow, Standard Webhooks, Slack and Teams, in and out: config, signatures, mapping, deliveries."""
