"""The metrics: each instrument is recorded where its fact is known, with the catalogue's name, unit and attributes,
read back through the OpenTelemetry SDK's in-memory reader (the real SDK, not a mock)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.pipeline import PipelineContext, PipelineRequest, PipelineResponse
from azure.core.rest import HttpRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from interconnect.adapters import metrics, trigger
from interconnect.adapters.avs import AvsSdkGateway
from interconnect.adapters.memory import InMemoryAuditStore, InMemoryQuarantine
from interconnect.adapters.metrics import INSTRUMENTS, AppMeasures, ArmCallMetering, OtelMeasures, arm_operation
from interconnect.app.bootstrap import wire
from interconnect.app.settings import Settings
from interconnect.audit.inventory import InventoryReader
from interconnect.audit.service import Audits
from interconnect.avs.resources import Link, LinkStatus
from interconnect.linking.approvals import Approvals
from interconnect.linking.measures import Unmeasured
from interconnect.linking.model import Action, Requester, Status
from interconnect.linking.policy import DEFAULT
from interconnect.linking.queue import DeadLetter, WorkItem
from interconnect.linking.sweeper import Sweeper
from tests.factories import SUB_A
from tests.trigger_messages import delivered
from tests.unit.world import World

# Just enough settings for the app's services to be wired over in-memory ports.
SETTINGS = {
    "INTERCONNECT_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",
    "ServiceBusConnection": "Endpoint=sb://fake.test/;SharedAccessKeyName=k;SharedAccessKey=fake",
    "INTERCONNECT_AUTH_ISSUER": "https://login.example/tenant-1/v2.0",
    "INTERCONNECT_AUTH_AUDIENCE": "api://interconnect",
    "INTERCONNECT_ARM_AUTH": "none",
}


@dataclass(frozen=True)
class Point:
    name: str
    unit: str
    attributes: dict[str, Any]
    value: float  # a counter's sum, a gauge's value, a histogram's count
    total: float = 0.0  # a histogram's sum


class Metrics:
    """The SDK's MeterProvider with its in-memory reader (cumulative: a reading is the total so far)."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.measures = OtelMeasures(MeterProvider(metric_readers=[self.reader]).get_meter("test"))

    @classmethod
    def on(cls, reader: InMemoryMetricReader) -> Metrics:
        """Readings of what the app records on a meter read by `reader` (no instruments of its own)."""
        readings = cls.__new__(cls)
        readings.reader = reader
        return readings

    def points(self, name: str) -> list[Point]:
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != name:
                        continue
                    for p in metric.data.data_points:
                        value = getattr(p, "count", None)
                        value = getattr(p, "value", 0) if value is None else value
                        found.append(
                            Point(
                                metric.name, metric.unit or "", dict(p.attributes or {}), value, getattr(p, "sum", 0.0)
                            )
                        )
        return found

    def counts(self, name: str) -> dict[tuple[tuple[str, Any], ...], float]:
        return {tuple(sorted(p.attributes.items())): p.value for p in self.points(name)}


@pytest.fixture
def recorded() -> Metrics:
    return Metrics()


@pytest.fixture
def app_metrics(recorded: Metrics, monkeypatch: pytest.MonkeyPatch) -> Iterator[Metrics]:
    """What the adapters record through `metrics.measures()`, as the app's edge would have it."""
    monkeypatch.setattr(metrics, "_current", recorded.measures)
    yield recorded


def world_with(recorded: Metrics, approvals: bool = False) -> World:
    world = World(approvals=approvals)
    world.worker.measures = recorded.measures
    return world


def key(**attributes: Any) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(attributes.items()))


def test_a_connect_to_succeeded_and_one_rejected_are_counted_by_action_channel_and_outcome(recorded: Metrics) -> None:
    world = world_with(recorded)
    ok = world.submit(Action.CONNECT)
    world.drain()
    refused = world.submit(Action.CONNECT, world.a, world.c)  # c is in another region
    world.drain()
    assert (world.status(ok), world.status(refused)) == (Status.SUCCEEDED, Status.REJECTED)
    outcome = "interconnect.request.outcome"
    who = {"interconnect.request.action": "connect", "interconnect.channel": "api"}
    assert recorded.counts("interconnect.requests") == {
        key(**who, **{outcome: "Succeeded"}): 1,
        key(**who, **{outcome: "Rejected"}): 1,
    }
    assert recorded.counts("interconnect.request.duration") == {
        key(**who, **{outcome: "Succeeded"}): 1,
        key(**who, **{outcome: "Rejected"}): 1,
    }
    # Decided once each: the connect to start its operation, the other to be refused.
    status = "interconnect.request.status"
    assert recorded.counts("interconnect.request.decision.duration") == {
        key(**who, **{status: "InProgress"}): 1,
        key(**who, **{status: "Rejected"}): 1,
    }
    # The operation seen done and recorded: once, for the create.
    (delay,) = recorded.points("interconnect.operation.recording.delay")
    assert delay.attributes == {"interconnect.operation.verb": "create", outcome: "Succeeded"}
    assert delay.unit == "s" and delay.value == 1 and delay.total >= 0


def test_durations_are_in_seconds_from_acceptance(recorded: Metrics) -> None:
    world = world_with(recorded)
    world.submit(Action.CONNECT, world.a, world.c)
    world.clock.advance(seconds=90)  # picked up 90 s after it was accepted
    world.drain()
    (ended,) = recorded.points("interconnect.request.duration")
    assert ended.unit == "s" and ended.total == 90


def test_a_replayed_step_that_loses_its_race_counts_nothing_twice(recorded: Metrics) -> None:
    world = world_with(recorded)
    rid = world.submit(Action.CONNECT, world.a, world.c)
    world.drain()
    world.worker.handle(WorkItem(rid))  # its first message delivered again: the request has ended
    world.drain()
    assert sum(recorded.counts("interconnect.requests").values()) == 1


def test_a_disconnect_rejected_by_its_approver_is_counted_where_the_person_decided(recorded: Metrics) -> None:
    world = world_with(recorded, approvals=True)
    world.avs.links[(world.a, "l")] = Link(world.a, "l", world.b, LinkStatus.ACTIVE)
    rid = world.submit(Action.DISCONNECT)
    world.dispatch.handle(world.queue.take()[0])  # now awaiting approval
    approvals = Approvals(world.store, world.queue, world.clock, DEFAULT, measures=recorded.measures)
    bob = Requester("api", "bob", "Bob", roles=frozenset({"Links.Approve"}), verified_person=True)
    approvals.decide(rid, bob, approve=False)
    assert recorded.counts("interconnect.requests") == {
        key(
            **{
                "interconnect.request.action": "disconnect",
                "interconnect.channel": "api",
                "interconnect.request.outcome": "Rejected",
            }
        ): 1
    }
    assert recorded.points("interconnect.request.decision.duration") == []  # a person's no, not a decision on facts


def test_the_sweeper_measures_approvals_waiting_and_the_oldest_age_and_each_dead_letter(recorded: Metrics) -> None:
    world = world_with(recorded, approvals=True)
    world.submit(Action.DISCONNECT)
    first = world.queue.take()[0]
    world.clock.advance(minutes=5)
    world.submit(Action.DISCONNECT, world.a, world.c)
    second = world.queue.take()[0]
    world.dispatch.handle(first)  # each now awaits approval
    world.dispatch.handle(second)
    world.clock.advance(minutes=2)
    world.queue.dead.append(DeadLetter("m1", b"{not json", "MaxDeliveryCountExceeded", ""))
    sweeper = Sweeper(
        world.store, world.queue, world.clock, quarantine=InMemoryQuarantine(), measures=recorded.measures
    )
    sweeper.sweep()
    (waiting,) = recorded.points("interconnect.approvals.waiting")
    (age,) = recorded.points("interconnect.approvals.age")
    assert (waiting.value, age.value, age.unit) == (2, 7 * 60, "s")
    assert recorded.counts("interconnect.messages.dead_lettered") == {
        key(**{"interconnect.dead_letter.outcome": "malformed"}): 1
    }


def test_a_request_the_sweeper_fails_for_its_dead_letter_is_counted_failed(recorded: Metrics) -> None:
    world = world_with(recorded)
    world.submit(Action.CONNECT)
    item, _ = world.queue.take()
    world.queue.dead.append(DeadLetter(item.message_id, item.encode().encode(), "MaxDeliveryCountExceeded", ""))
    Sweeper(world.store, world.queue, world.clock, measures=recorded.measures).sweep()
    assert recorded.counts("interconnect.requests") == {
        key(
            **{"interconnect.request.action": "connect", "interconnect.channel": "api"},
            **{"interconnect.request.outcome": "Failed"},
        ): 1
    }
    assert recorded.counts("interconnect.messages.dead_lettered") == {
        key(**{"interconnect.dead_letter.outcome": "failed_request"}): 1
    }


def test_each_audit_run_counts_its_findings_by_code_and_severity(recorded: Metrics) -> None:
    world = world_with(recorded)
    world.avs.links[(world.a, "by-hand")] = Link(world.a, "by-hand", world.b, LinkStatus.FAILED)
    world.queue.dead.append(DeadLetter("m", b"{}", "MaxDeliveryCountExceeded", ""))
    service = Audits(
        InventoryReader(world.avs, concurrency=2),
        world.store,
        InMemoryAuditStore(world.store),
        world.queue,
        world.clock,
        (SUB_A,),
        quarantine=InMemoryQuarantine(),
        measures=recorded.measures,
    )
    run = service.run("r1")
    expected: dict[tuple[tuple[str, Any], ...], float] = {}
    for finding in run.findings:
        k = key(**{"interconnect.finding.code": finding.code, "interconnect.finding.severity": finding.severity})
        expected[k] = expected.get(k, 0) + 1
    assert recorded.counts("interconnect.audit.findings") == expected
    assert any(dict(k)["interconnect.finding.code"] == "DEAD_LETTERED" for k in expected)
    service.run("r2")  # the same findings again: counted again, one per finding per run
    assert recorded.counts("interconnect.audit.findings") == {k: 2 * n for k, n in expected.items()}


def arm_exchange(method: str, url: str, status: int | None) -> None:
    policy = ArmCallMetering()
    request = PipelineRequest(HttpRequest(method, url), PipelineContext(None))
    if status is None:
        policy.on_exception(request)
        return

    class Answer:
        status_code = status

    policy.on_response(request, PipelineResponse(request.http_request, Answer(), request.context))  # type: ignore[arg-type]


CLOUD = "https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.AVS/privateClouds/a"


def test_every_arm_attempt_is_counted_by_call_and_status_so_429s_show(app_metrics: Metrics) -> None:
    arm_exchange("PUT", f"{CLOUD}/cloudLinks/l-b?api-version=2023-09-01", 429)
    arm_exchange("PUT", f"{CLOUD}/cloudLinks/l-b?api-version=2023-09-01", 201)
    arm_exchange("GET", f"{CLOUD}/providers/Microsoft.Authorization/permissions", 403)
    arm_exchange("GET", f"{CLOUD}/cloudLinks", None)
    call, status = "interconnect.arm.call", "http.response.status_code"
    assert app_metrics.counts("interconnect.arm.calls") == {
        key(**{call: "cloudLinks.put", status: 429}): 1,
        key(**{call: "cloudLinks.put", status: 201}): 1,
        key(**{call: "permissions.list", status: 403}): 1,
        key(**{call: "cloudLinks.list", status: 0}): 1,
    }


def test_the_gateway_meters_each_attempt_not_each_call() -> None:
    gateway = AvsSdkGateway(None, base_url="http://127.0.0.1:1")
    assert [type(p) for p in gateway._kwargs["per_retry_policies"]] == [ArmCallMetering]


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("GET", "/subscriptions/s/providers/Microsoft.AVS/privateClouds", "privateClouds.list"),
        ("GET", "/subscriptions/s/resourceGroups/r/providers/Microsoft.AVS/privateClouds/c", "privateClouds.get"),
        (
            "GET",
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.AVS/privateClouds/c/cloudLinks/segments",
            "cloudLinks.get",
        ),
        (
            "DELETE",
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.AVS/privateClouds/c/cloudLinks/x",
            "cloudLinks.delete",
        ),
        (
            "GET",
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.AVS/privateClouds/c/workloadNetworks/default/segments",
            "segments.list",
        ),
        ("GET", "/providers/Microsoft.AVS/operations", "operations.list"),
        ("GET", "/subscriptions/s/resourceGroups/r/providers/Microsoft.Evil/things/x", "other"),
        ("GET", "/anything/else", "other"),
    ],
)
def test_an_arm_call_is_named_by_its_resource_type_and_verb_never_by_a_name(method: str, path: str, kind: str) -> None:
    assert arm_operation(method, f"https://management.azure.com{path}?api-version=1") == kind


def test_a_message_set_aside_is_counted_by_its_reason(app_metrics: Metrics) -> None:
    trigger.receive(delivered(b"{not json", message_id="m-bad", delivery_count=1), InMemoryQuarantine(), print)
    assert app_metrics.counts("interconnect.messages.set_aside") == {
        key(**{"interconnect.reason.code": "MALFORMED_MESSAGE"}): 1
    }


def test_a_channel_or_code_from_outside_cannot_grow_the_series(recorded: Metrics) -> None:
    recorded.measures.audit_findings([("X" * 200, "critical"), ("a b", "critical")])
    assert recorded.counts("interconnect.audit.findings") == {
        key(**{"interconnect.finding.code": "other", "interconnect.finding.severity": "critical"}): 2
    }


def test_every_instrument_is_recorded_under_its_catalogued_name_unit_and_attributes(recorded: Metrics) -> None:
    # The catalogue is what tests/infra checks the alerts and the workbook against: it must be what is exported.
    world = world_with(recorded)
    world.submit(Action.CONNECT)
    world.drain()
    measures = recorded.measures
    measures.dead_letter("malformed")
    measures.approvals_waiting([])
    measures.audit_findings([("LINK_NOT_ACTIVE", "critical")])
    measures.arm_call("cloudLinks.get", 200)
    measures.set_aside("MALFORMED_MESSAGE")
    data = recorded.reader.get_metrics_data()
    assert data is not None
    exported = {
        (m.name, m.unit): {key for p in m.data.data_points for key in (p.attributes or {})}
        for r in data.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
    }
    assert set(exported) == {(i.name, i.unit) for i in INSTRUMENTS}
    for instrument in INSTRUMENTS:
        assert exported[(instrument.name, instrument.unit)] == set(instrument.attributes), instrument.name


def test_the_app_records_on_the_meter_telemetry_gives_once_it_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_current", None)
    monkeypatch.setattr(metrics.telemetry, "meter", lambda: None)
    assert isinstance(metrics.measures(), Unmeasured)  # telemetry off (or not yet on): nothing is recorded
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("app")
    monkeypatch.setattr(metrics.telemetry, "meter", lambda: meter)
    first = metrics.measures()
    assert isinstance(first, OtelMeasures) and metrics.measures() is first  # instruments made once
    AppMeasures().dead_letter("malformed")  # what the services hold: it asks at each fact
    assert Metrics.on(reader).counts("interconnect.messages.dead_lettered") == {
        key(**{"interconnect.dead_letter.outcome": "malformed"}): 1
    }


@pytest.mark.parametrize(
    ("environment", "measured"), [({}, False), ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True)]
)
def test_the_services_are_measured_only_when_telemetry_exports(
    environment: dict[str, str], measured: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "APPLICATIONINSIGHTS_CONNECTION_STRING", "INTERCONNECT_TELEMETRY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    world = World()
    services = wire(Settings.from_env(SETTINGS), world.store, world.queue, world.avs, world.clock)
    assert isinstance(services.sweeper.measures, AppMeasures) is measured
    assert isinstance(services.worker.measures, AppMeasures) is measured
