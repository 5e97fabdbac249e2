"""The app's metrics: every OpenTelemetry instrument it records, by name, unit and attributes, in one catalogue.

`INSTRUMENTS` is plain data (tests/infra checks that every metric an alert or the workbook queries is in it);
`OtelMeasures` creates the instruments on a meter and records the facts the services report through
`linking.measures.Measures`, plus what only an adapter sees: each ARM call's answer (`ArmCallMetering`, a pipeline
policy) and each message the trigger sets aside. Names follow the OpenTelemetry semantic-convention style
(`interconnect.<thing>[.<property>]`, UCUM units, `{annotation}` for counts).

Attributes are low-cardinality only: statuses, actions, channels, stable codes, ARM operation kinds and HTTP
status codes, never a request id, a cloud id or a link name (those belong on spans, adapters/telemetry.py), since
every distinct attribute set is a time series kept for as long as the process lives.

In Azure each data point becomes a `customMetrics` row, which the alerts and the workbook
(infra/app/observability.bicep) query: counters and histograms as deltas, a gauge as its last value
(docs/azure-monitor.md §1).

The OpenTelemetry API is not imported here at run time: the meter comes from `telemetry.meter()` (None when
telemetry is off, and then nothing is recorded).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlparse

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.core.rest import HttpRequest, HttpResponse

from interconnect.adapters import telemetry
from interconnect.linking.measures import Measures, Unmeasured
from interconnect.linking.model import LinkRequest, Status

if TYPE_CHECKING:
    from opentelemetry.metrics import Histogram, Meter

# Attribute keys (semantic-convention style; `http.response.status_code` is the convention's own).
ACTION = "interconnect.request.action"
CHANNEL = "interconnect.channel"
OUTCOME = "interconnect.request.outcome"
STATUS = "interconnect.request.status"
VERB = "interconnect.operation.verb"
ARM_CALL = "interconnect.arm.call"  # spans name the gateway method `interconnect.arm.operation`
HTTP_STATUS = "http.response.status_code"
FINDING_CODE = "interconnect.finding.code"
FINDING_SEVERITY = "interconnect.finding.severity"
DEAD_LETTER_OUTCOME = "interconnect.dead_letter.outcome"
REASON_CODE = "interconnect.reason.code"


@dataclass(frozen=True)
class Instrument:
    name: str
    kind: Literal["counter", "histogram", "gauge"]
    unit: str
    description: str
    attributes: tuple[str, ...] = ()


REQUESTS = Instrument(
    "interconnect.requests",
    "counter",
    "{request}",
    "Requests that reached a final status, by action, channel and outcome.",
    (ACTION, CHANNEL, OUTCOME),
)
REQUEST_DURATION = Instrument(
    "interconnect.request.duration",
    "histogram",
    "s",
    "Time from a request's acceptance to its final status.",
    (ACTION, CHANNEL, OUTCOME),
)
DECISION_DURATION = Instrument(
    "interconnect.request.decision.duration",
    "histogram",
    "s",
    "Time from a request's acceptance to its decision on facts read from ARM (leaving Validating); a disconnect's "
    "includes the wait for its approval.",
    (ACTION, CHANNEL, STATUS),
)
RECORDING_DELAY = Instrument(
    "interconnect.operation.recording.delay",
    "histogram",
    "s",
    "Time from an ARM operation being done to the request recording it, at most: from the last look that saw it "
    "still running (or its start) to the check that recorded the result.",
    (VERB, OUTCOME),
)
ARM_CALLS = Instrument(
    "interconnect.arm.calls",
    "counter",
    "{call}",
    "HTTP calls to ARM, every attempt (the SDK's retries of a 429 or 5xx included), by operation and answer; "
    "status 0 when no answer came.",
    (ARM_CALL, HTTP_STATUS),
)
APPROVALS_WAITING = Instrument(
    "interconnect.approvals.waiting",
    "gauge",
    "{request}",
    "Requests awaiting a second person's approval, at the sweeper's last pass.",
)
APPROVALS_AGE = Instrument(
    "interconnect.approvals.age",
    "gauge",
    "s",
    "Age (since acceptance) of the oldest request awaiting approval at the sweeper's last pass; 0 when none waits.",
)
AUDIT_FINDINGS = Instrument(
    "interconnect.audit.findings",
    "counter",
    "{finding}",
    "Findings of each audit run, one per finding open at that run, by code and severity.",
    (FINDING_CODE, FINDING_SEVERITY),
)
DEAD_LETTERED = Instrument(
    "interconnect.messages.dead_lettered",
    "counter",
    "{message}",
    "Dead letters the sweeper read, by what became of them; one left for a person is counted at every pass.",
    (DEAD_LETTER_OUTCOME,),
)
SET_ASIDE = Instrument(
    "interconnect.messages.set_aside",
    "counter",
    "{message}",
    "Queue messages the worker set aside in the quarantine for a person, by reason code.",
    (REASON_CODE,),
)
INSTRUMENTS = (
    REQUESTS,
    REQUEST_DURATION,
    DECISION_DURATION,
    RECORDING_DELAY,
    ARM_CALLS,
    APPROVALS_WAITING,
    APPROVALS_AGE,
    AUDIT_FINDINGS,
    DEAD_LETTERED,
    SET_ASIDE,
)

# Durations here run from under a second (a rejection) to hours (an AVS link build, a wait for approval).
DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800)
_SHORT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def bounded(value: str) -> str:
    """A value fit to be an attribute (a channel, a code): short and plain, else `other`, so that nothing read
    from outside can grow the number of series."""
    return value if _SHORT.fullmatch(value) else "other"


class OtelMeasures:
    """`Measures` on an OpenTelemetry meter, plus what the adapters record (ARM calls, set-aside messages)."""

    def __init__(self, meter: Meter) -> None:
        def histogram(spec: Instrument) -> Histogram:
            return meter.create_histogram(
                spec.name, spec.unit, spec.description, explicit_bucket_boundaries_advisory=DURATION_BUCKETS
            )

        self._requests = meter.create_counter(REQUESTS.name, REQUESTS.unit, REQUESTS.description)
        self._request_duration = histogram(REQUEST_DURATION)
        self._decision_duration = histogram(DECISION_DURATION)
        self._recording_delay = histogram(RECORDING_DELAY)
        self._arm_calls = meter.create_counter(ARM_CALLS.name, ARM_CALLS.unit, ARM_CALLS.description)
        self._approvals_waiting = meter.create_gauge(
            APPROVALS_WAITING.name, APPROVALS_WAITING.unit, APPROVALS_WAITING.description
        )
        self._approvals_age = meter.create_gauge(APPROVALS_AGE.name, APPROVALS_AGE.unit, APPROVALS_AGE.description)
        self._findings = meter.create_counter(AUDIT_FINDINGS.name, AUDIT_FINDINGS.unit, AUDIT_FINDINGS.description)
        self._dead_lettered = meter.create_counter(DEAD_LETTERED.name, DEAD_LETTERED.unit, DEAD_LETTERED.description)
        self._set_aside = meter.create_counter(SET_ASIDE.name, SET_ASIDE.unit, SET_ASIDE.description)

    # -- Measures (the services' facts) ---------------------------------------------------------------

    def request_moved(self, before: LinkRequest, after: LinkRequest) -> None:
        since_accepted = max((after.updated_at - after.created_at).total_seconds(), 0.0)
        who = {ACTION: after.action.value, CHANNEL: bounded(after.requester.channel)}
        if before.status is Status.VALIDATING and after.status is not Status.VALIDATING:
            self._decision_duration.record(since_accepted, {**who, STATUS: after.status.value})
        if after.status.is_terminal and not before.status.is_terminal:
            ended = {**who, OUTCOME: after.status.value}
            self._requests.add(1, ended)
            self._request_duration.record(since_accepted, ended)

    def operation_done(self, after: LinkRequest, verb: str, since_last_look: timedelta) -> None:
        self._recording_delay.record(
            max(since_last_look.total_seconds(), 0.0), {VERB: bounded(verb), OUTCOME: after.status.value}
        )

    def dead_letter(self, outcome: str) -> None:
        self._dead_lettered.add(1, {DEAD_LETTER_OUTCOME: bounded(outcome)})

    def approvals_waiting(self, ages: Iterable[timedelta]) -> None:
        seconds = [max(age.total_seconds(), 0.0) for age in ages]
        self._approvals_waiting.set(len(seconds))
        self._approvals_age.set(max(seconds, default=0.0))

    def audit_findings(self, findings: Iterable[tuple[str, str]]) -> None:
        counts: dict[tuple[str, str], int] = {}
        for code, severity in findings:
            key = (bounded(code), bounded(severity))
            counts[key] = counts.get(key, 0) + 1
        for (code, severity), n in counts.items():
            self._findings.add(n, {FINDING_CODE: code, FINDING_SEVERITY: severity})

    # -- what only the adapters see -------------------------------------------------------------------

    def arm_call(self, call: str, status: int) -> None:
        """One attempt of ARM call `call` (`arm_operation`'s name for it) answered `status` (0: no answer)."""
        self._arm_calls.add(1, {ARM_CALL: call, HTTP_STATUS: status})

    def set_aside(self, reason_code: str) -> None:
        self._set_aside.add(1, {REASON_CODE: bounded(reason_code)})


def count_set_aside(reason_code: str) -> None:
    """The trigger set a message aside in the quarantine with `reason_code`."""
    recorder = measures()
    if isinstance(recorder, OtelMeasures):
        recorder.set_aside(reason_code)


def _conforms(recorder: OtelMeasures) -> Measures:
    """Never called: mypy holds OtelMeasures to the `Measures` port here (tests pass it where a Measures goes)."""
    return recorder


_lock = threading.Lock()
_current: OtelMeasures | None = None


def measures() -> OtelMeasures | Unmeasured:
    """The app's measures: on the meter telemetry was configured with, or recording nothing when it is off.

    Instruments are created once, at the first call that finds a meter (telemetry is configured by the app edge
    before the first function runs; a call before that records nothing and is asked again next time)."""
    global _current
    if _current is not None:
        return _current
    meter = telemetry.meter()
    if meter is None:
        return Unmeasured()
    with _lock:
        if _current is None:
            _current = OtelMeasures(meter)
        return _current


# -- ARM calls ---------------------------------------------------------------------------------------------

# The resource types the app reads or writes, as ARM's paths spell them; any other path is `other`, so a
# surprising URL can never add a series.
_ARM_TYPES = {
    t.lower(): t
    for t in ("privateClouds", "cloudLinks", "segments", "globalReachConnections", "permissions", "operations")
}
_VERBS = {"PUT": "put", "DELETE": "delete", "PATCH": "patch", "POST": "post"}


def arm_operation(method: str, url: str) -> str:
    """The kind of an ARM call, named as the call log and `avs.resources.READS` name them: `<type>.<verb>` with
    the last resource type in the path; a GET of a collection is `list`, of one resource `get`
    (`cloudLinks.get`, `privateClouds.list`, `cloudLinks.put`, `permissions.list`)."""
    parts = [p for p in urlparse(url).path.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return "other"
    # After the last `providers/<namespace>`, the path alternates resource type and name.
    resource = parts[len(lowered) - lowered[::-1].index("providers") + 1 :]
    kind = _ARM_TYPES.get(resource[-2 if len(resource) % 2 == 0 else -1].lower()) if resource else None
    if kind is None:
        return "other"
    verb = _VERBS.get(method.upper()) or ("get" if len(resource) % 2 == 0 else "list")
    return f"{kind}.{verb}"


class ArmCallMetering(SansIOHTTPPolicy[HttpRequest, HttpResponse]):
    """Counts every attempt of every ARM call with its answer (a per-retry policy, so the SDK's own retries of a
    429 show as the 429s they were); a call that got no answer is counted with status 0."""

    def on_response(
        self, request: PipelineRequest[HttpRequest], response: PipelineResponse[HttpRequest, HttpResponse]
    ) -> None:
        recorder = measures()
        if isinstance(recorder, OtelMeasures):
            http = request.http_request
            recorder.arm_call(arm_operation(http.method, http.url), response.http_response.status_code)

    def on_exception(self, request: PipelineRequest[HttpRequest]) -> None:
        recorder = measures()
        if isinstance(recorder, OtelMeasures):
            http = request.http_request
            recorder.arm_call(arm_operation(http.method, http.url), 0)


class AppMeasures:
    """`Measures` for the app's services: each fact goes to `measures()` at the moment it is reported, so a
    service built before the edge switched telemetry on still records once it is on."""

    def request_moved(self, before: LinkRequest, after: LinkRequest) -> None:
        measures().request_moved(before, after)

    def operation_done(self, after: LinkRequest, verb: str, since_last_look: timedelta) -> None:
        measures().operation_done(after, verb, since_last_look)

    def dead_letter(self, outcome: str) -> None:
        measures().dead_letter(outcome)

    def approvals_waiting(self, ages: Iterable[timedelta]) -> None:
        measures().approvals_waiting(ages)

    def audit_findings(self, findings: Iterable[tuple[str, str]]) -> None:
        measures().audit_findings(findings)
