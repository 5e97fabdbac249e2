"""The alert rules and the workbook (infra/app/observability.bicep): declared, wired from main.bicep to an action
group given as a parameter, and querying only metrics the app really emits, with the attributes it records on them.

The names are taken from the app's own catalogue (interconnect/adapters/metrics.py INSTRUMENTS) and the audit's
own finding codes (the literals interconnect/audit/checks.py builds its findings with), never from a second list.
"""

from __future__ import annotations

import ast
import re

import pytest

from interconnect.adapters.metrics import INSTRUMENTS, Instrument
from interconnect.audit import model as audit_model
from tests.infra.bicep import ROOT, load, properties, strings_in, text

OBSERVABILITY = "infra/app/observability.bicep"
BY_NAME: dict[str, Instrument] = {i.name: i for i in INSTRUMENTS}
# `name == 'x'` and `name in ('x', 'y')` pick metrics; `customDimensions['k']` reads an attribute.
NAMES = re.compile(r"name\s*(?:==\s*'([^']+)'|in\s*\(([^)]*)\))")
DIMENSIONS = re.compile(r"customDimensions\['([^']+)'\]")
DIMENSION_VALUE = re.compile(r"customDimensions\['([^']+)'\]\)\s*==\s*'([^']+)'")


def queries(var: str) -> list[str]:
    """The KQL of every rule or chart declared in `var` (the object property `query`, a plain or formatted string)."""
    file = load(OBSERVABILITY)
    value = file.get("var", var).value
    assert value is not None
    found = [q for q in strings_in(value) if "customMetrics" in q]
    assert found, f"{var} declares no query"
    return found


def metric_names(query: str) -> set[str]:
    names: set[str] = set()
    for one, many in NAMES.findall(query):
        names |= {one} if one else set(re.findall(r"'([^']+)'", many))
    return names


def finding_codes() -> set[str]:
    """The codes the audit's checks give their findings (the first argument of each `Finding(...)`)."""
    tree = ast.parse((ROOT / "interconnect/audit/checks.py").read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "Finding"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }


ALL = [("alertRules", q) for q in queries("alertRules")] + [("charts", q) for q in queries("charts")]


@pytest.mark.parametrize(("var", "query"), ALL, ids=[f"{v}-{i}" for i, (v, _) in enumerate(ALL)])
def test_every_query_reads_metrics_the_app_emits_by_attributes_they_carry(var: str, query: str) -> None:
    assert query.strip().startswith("customMetrics"), "the distro writes OTel metrics to customMetrics"
    names = metric_names(query)
    assert names and names <= set(BY_NAME), f"unknown metric(s) {sorted(names - set(BY_NAME))}"
    carried = {a for n in names for a in BY_NAME[n].attributes}
    read = set(DIMENSIONS.findall(query))
    assert read <= carried, f"{sorted(read - carried)} is no attribute of {sorted(names)}"
    # The exporter sends a counter's (delta) or a gauge's value alone, as `valueSum` with a count of 1: only a
    # histogram has a meaningful valueCount, valueMin and valueMax.
    if all(BY_NAME[n].kind != "histogram" for n in names):
        assert not re.search(r"value(Max|Min|Count)", query), "a counter or gauge has only valueSum"
    # Nothing that looks like one of our names is left unchecked (a typo outside the patterns above).
    ours = set(re.findall(r"interconnect\.[a-z_.]+[a-z_]", query))
    assert ours <= set(BY_NAME) | carried


@pytest.mark.parametrize(("var", "query"), ALL, ids=[f"{v}-{i}" for i, (v, _) in enumerate(ALL)])
def test_every_finding_code_and_severity_a_query_compares_with_is_one_the_audit_gives(var: str, query: str) -> None:
    severities = {audit_model.CRITICAL, audit_model.WARNING, audit_model.INFO}
    for key, value in DIMENSION_VALUE.findall(query):
        if key == "interconnect.finding.code":
            assert value in finding_codes()
        elif key == "interconnect.finding.severity":
            assert value in severities


def test_the_four_alerts_are_declared_and_sent_to_the_action_group_parameter() -> None:
    file = load(OBSERVABILITY)
    (rules,) = file.resources_of_type("Microsoft.Insights/scheduledQueryRules")
    body = text(rules.node)
    assert "actions: actions" in body and "scopes" in body and "applicationInsights.id" in body
    assert "actionGroups" in text(file.get("var", "actions").node)
    assert "actionGroupId" in text(file.get("var", "actions").node)
    names = [v for v in strings_in(file.get("var", "alertRules").value or file.root) if re.fullmatch(r"[a-z-]+", v)]
    assert {
        "critical-audit-finding",
        "dead-lettered-or-set-aside",
        "request-stuck",
        "arm-authorization-failures",
    } <= set(names)
    alerts = " ".join(queries("alertRules"))
    assert "'critical'" in alerts and "'STALE_REQUEST'" in alerts and "(401, 403)" in alerts
    assert {"interconnect.messages.dead_lettered", "interconnect.messages.set_aside"} <= metric_names(alerts)


def test_main_passes_an_action_group_parameter_and_outputs_the_workbook_url() -> None:
    main = load("infra/main.bicep")
    main.get("param", "alertActionGroupId")
    module = main.get("module", "observability")
    assert module.type_string == "app/observability.bicep"
    assert module.value is not None
    params = properties(properties(module.value)["params"])
    assert text(params["actionGroupId"]) == "alertActionGroupId"
    url = text(main.get("output", "WORKBOOK_URL").node)
    assert "observability.outputs.workbookId" in url and "environment().portal" in url


def test_the_workbook_is_declared_on_the_app_insights_resource_and_charts_every_metric() -> None:
    file = load(OBSERVABILITY)
    (workbook,) = file.resources_of_type("Microsoft.Insights/workbooks")
    body = text(workbook.node)
    assert "serializedData: string(workbookContent)" in body and "sourceId: applicationInsights.id" in body
    charted = {n for q in queries("charts") for n in metric_names(q)}
    assert charted == set(BY_NAME), f"not charted: {sorted(set(BY_NAME) - charted)}"


def test_the_check_fails_on_a_name_the_app_does_not_emit() -> None:
    # Worth something only if it can fail: a misspelt metric or attribute is caught.
    query = "customMetrics | where name == 'interconnect.request' | summarize sum(valueSum)"
    assert not metric_names(query) <= set(BY_NAME)
    query = "customMetrics | where name == 'interconnect.requests' | extend x = customDimensions['interconnect.cloud']"
    carried = {a for n in metric_names(query) for a in BY_NAME[n].attributes}
    assert not set(DIMENSIONS.findall(query)) <= carried
