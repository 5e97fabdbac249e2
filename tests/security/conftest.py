"""The security tier: the app on the local host on the local cloud, attacked over HTTP and through its queue.

One local cloud per session, configured like the chat e2e tests (Jira, ServiceNow and Standard Webhooks
hooks, Slack and Teams, with obviously fake secrets), with approvals off and the timers set never to fire
during the run, so that nothing but the case under test can change what is stored or queued. Every
hypothesis run here is seeded (`derandomize`), never shrinks (a failing run reports every violation it saw
rather than spending minutes minimising one), and keeps no example database: two runs send the same cases.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from localdev.cloud import QUEUE_NAME, LocalCloud
from localdev.procs import ROOT
from tests.e2e.conftest import FUNCTION_KEY, App, app_on, fleet_document, new_cloud, pc
from tests.e2e.sink import Sink, running_sink
from tests.security.hostile import Route, Target
from tests.security.probe import Probe

SUB, RG = "66666666-6666-6666-6666-666666666666", "rg-sec"
CLOUDS = ("pc-a", "pc-b", "pc-c")
NEVER = "0 0 0 1 1 *"  # midnight on 1 January: no timer fires during a run
TARGET = Target(
    subscription=SUB,
    resource_group=RG,
    clouds=CLOUDS,
    function_key=FUNCTION_KEY,
    jira_source="jira-prod",
    jira_secret="jira-fake-secret-for-security",
    snow_source="snow",
    snow_secret="servicenow-fake-secret-for-security",
    webhook_source="cmdb",
    webhook_secret="whsec_" + base64.b64encode(b"cmdb-fake-security-key-0123456").decode(),
    slack_secret="slack-fake-secret-for-security",
    teams_secret=base64.b64encode(b"teams-fake-security-key-012345").decode(),
)
CALLBACK_AUTHORIZATION = "Basic c2VjdXJpdHk6ZmFrZQ=="  # security:fake
CALLBACK_SIGNING = "whsec_" + base64.b64encode(b"cmdb-fake-security-callback-0").decode()


def hypothesis_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


def app_settings(sink_url: str, **overrides: str) -> dict[str, str]:
    return {
        "LOCALHOST_FUNCTION_KEYS": FUNCTION_KEY,
        "INTERCONNECT_APPROVALS": "off",
        "INTERCONNECT_SWEEP_SCHEDULE": NEVER,
        "INTERCONNECT_AUDIT_SCHEDULE": NEVER,
        "INTERCONNECT_SUBSCRIPTIONS": SUB,
        "INTERCONNECT_POLICY": json.dumps(
            {
                "rules": [
                    {
                        "requesters": [
                            "api:*",
                            "slack:*",
                            "teams:*",
                            f"{TARGET.jira_source}:*",
                            f"{TARGET.snow_source}:*",
                            f"{TARGET.webhook_source}:*",
                        ],
                        "actions": ["connect", "disconnect"],
                        "scopes": [f"/subscriptions/{SUB}"],
                    }
                ],
                "approvers": ["api:*", "slack:T1/*"],
            }
        ),
        "INTERCONNECT_HOOKS": json.dumps(
            {
                TARGET.jira_source: {"type": "jira", "callback": {"url": f"{sink_url}/jira"}},
                TARGET.snow_source: {
                    "type": "servicenow",
                    "callback": {"url": f"{sink_url}/snow", "table": "change_request"},
                },
                TARGET.webhook_source: {"type": "standard-webhooks", "callback": {"url": f"{sink_url}/events"}},
            }
        ),
        "INTERCONNECT_HOOK_SECRETS": json.dumps(
            {
                TARGET.jira_source: {"signing": [TARGET.jira_secret], "callbackAuthorization": CALLBACK_AUTHORIZATION},
                TARGET.snow_source: {"signing": [TARGET.snow_secret], "callbackAuthorization": CALLBACK_AUTHORIZATION},
                TARGET.webhook_source: {"signing": [TARGET.webhook_secret], "callbackSigning": CALLBACK_SIGNING},
            }
        ),
        "INTERCONNECT_SLACK_SIGNING_SECRETS": TARGET.slack_secret,
        "INTERCONNECT_TEAMS_SECRETS": TARGET.teams_secret,
        "INTERCONNECT_TEAMS_WORKFLOW_URL": f"{sink_url}/teams-workflow",
        **overrides,
    }


FLEET = fleet_document(SUB, RG, [pc("pc-a", "10.0.0.0/22"), pc("pc-b", "10.0.4.0/22"), pc("pc-c", "10.0.8.0/22")])


@dataclass
class Attacked:
    """The app under attack, the probe that judges its answers, and the routes it serves."""

    app: App
    probe: Probe
    routes: tuple[Route, ...]


DISCOVER = """
import json, os
from localdev.host.bindings import HttpTrigger, load_app, read_functions
specs = read_functions(load_app("function_app"), dict(os.environ))
print(json.dumps([{"name": s.name, "template": s.trigger.route.template, "methods": list(s.trigger.methods),
                   "auth": s.trigger.auth_level} for s in specs if isinstance(s.trigger, HttpTrigger)]))
"""


@functools.cache
def http_routes() -> tuple[Route, ...]:
    """Every HTTP function function_app.py registers, read as the local host reads it, so a new route is
    fuzzed without anyone listing it here. In a child process: the app's `get_functions()` may run only once
    per process, and other tiers import function_app."""
    settings_ = LocalCloud(extra_settings=app_settings("http://127.0.0.1:9")).app_settings()
    done = subprocess.run(
        [sys.executable, "-c", DISCOVER],
        cwd=ROOT,
        env={**os.environ, **settings_},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return tuple(Route(r["name"], r["template"], tuple(r["methods"]), r["auth"]) for r in found)


def attacked_app(sink: Sink, **overrides: str) -> Iterator[Attacked]:
    with new_cloud(app_settings(sink.url, **overrides), "security") as cloud:
        app = app_on(cloud)
        app.arm.load_fleet(FLEET)
        yield Attacked(app, Probe(cloud.host_url, app.tables, app.bus, QUEUE_NAME), http_routes())


@pytest.fixture(scope="session")
def sink() -> Iterator[Sink]:
    yield from running_sink()


@pytest.fixture(scope="session")
def attacked(sink: Sink) -> Iterator[Attacked]:
    yield from attacked_app(sink)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[Any]) -> None:
    # The log check reads what every other test's hosts wrote, so it runs after all of them.
    last = [item for item in items if "tests/security/test_log_secrets.py" in item.nodeid]
    items[:] = [item for item in items if item not in last] + last
