"""Fuzz the REST API from its own OpenAPI document: schemathesis draws the cases, and judges each answer by it.

For every operation the document describes, the document's own examples are sent, then `examples` cases that
fit the schemas (positive) and `examples` that break them (negative: a wrong type, a missing field, a value out
of its pattern or range), each authenticated as the operation's `security` says, its alternatives taken in
turn: the function key in a header or in `?code=`, with or without a bearer token from the identity stand-in;
a token alone (approve, reject); or nothing (health, the document, and the signed channels, which must
answer a body without a valid signature 401).
Each answer is put through schemathesis' checks, sorted into what the issue counts:

- 5xx: `not_a_server_error` (no route answers 5xx on a healthy local cloud, health included);
- schema violations: `status_code_conformance` (a status the operation does not document),
  `content_type_conformance`, `response_headers_conformance` and `response_schema_conformance` (a body that
  does not validate against the documented schema for its status);
- other failures: `negative_data_rejection` (a request that breaks the schema answered 2xx), and a request
  that got no answer at all.

Nothing here stops at the first failure or shrinks one: a run reports every failure it saw, with a curl line
to replay it. Shared by the security tier (tests/security/test_openapi_fuzz.py, few derandomized examples) and
`python -m bench.openapi_fuzz` (many, seeded). The cases are schemathesis' own (`APIOperation.as_strategy`),
run under our hypothesis settings, so both stay deterministic for a given document and seed.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from localdev.procs import ROOT
from tests.security.hostile import Target

DOCUMENT = ROOT / "interconnect" / "app" / "openapi.json"
SERVED_AT = "/api/openapi.json"
TIMEOUT = 30.0  # seconds: a hang detector; every route answers in milliseconds on the local cloud

# Sorted into the counts. A 5xx is only counted as one (not also as an undocumented status).
KINDS: dict[str, tuple[Callable[..., Any], ...]] = {
    "5xx": (schemathesis.checks.not_a_server_error,),
    "schema": (
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ),
    "other": (negative_data_rejection,),
}
MODES = {"positive": GenerationMode.POSITIVE, "negative": GenerationMode.NEGATIVE}

# Our own configuration rather than a discovered schemathesis.toml. Security parameters are not generated:
# each case carries the real credentials its operation documents (below), so a negative case never "breaks"
# only a key it was going to be given anyway.
# Replays name every header but the credentials (schemathesis' default also hides any header whose name says
# "key", such as Idempotency-Key, which a finding may be about).
CONFIG = {
    "generation": {"with-security-parameters": False},
    "output": {
        "sanitization": {
            "keys-to-sanitize": ["x-functions-key", "authorization", "code"],
            "sensitive-markers": ["x-functions-key"],
        }
    },
}


def load(source: str | Path) -> BaseSchema:
    """The document from a URL (the one the app serves) or a file (the one checked in). Fetched here rather than
    by `schemathesis.openapi.from_url`, which leaves out the operation that served it: GET /openapi.json is
    fuzzed like any other."""
    config = schemathesis.Config.from_dict(CONFIG)
    if isinstance(source, Path):
        return schemathesis.openapi.from_path(source, config=config)
    response = requests.get(source, timeout=TIMEOUT)
    response.raise_for_status()
    return schemathesis.openapi.from_dict(response.json(), config=config)


@dataclass(frozen=True)
class Credentials:
    """What a caller of the local host can present, by the kind of security scheme that asks for it."""

    function_key: str
    bearer_token: str


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS, or "no answer"
    operation: str
    mode: str
    status: int | None
    title: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} on {self.operation} ({self.mode}, {self.status}): {self.title}\n{self.detail}"


@dataclass
class Tally:
    """What a run sent and what it found."""

    operations: list[str] = field(default_factory=list)
    cases: Counter[tuple[str, str]] = field(default_factory=Counter)  # by operation and mode
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: dict[str, Counter[int]] = field(default_factory=dict)  # statuses seen, by operation
    findings: list[Finding] = field(default_factory=list)
    no_negative: list[str] = field(default_factory=list)  # operations with nothing a negative case could break

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def by_mode(self, mode: str) -> int:
        return sum(n for (_, m), n in self.cases.items() if m == mode)

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def other(self) -> int:
        return len(self.findings) - self.count("5xx") - self.count("schema")

    def headline(self) -> str:
        return (
            f"{len(self.operations)} operations, {self.total} cases "
            f"({', '.join(f'{self.by_mode(mode)} {mode}' for mode in ('example', *MODES, 'linked'))}): "
            f"{self.server_errors} x 5xx, {self.count('schema')} schema violations, {self.other} other failures"
        )

    def report(self, limit: int = 3) -> str:
        """The headline, then up to `limit` findings of each kind on each operation."""
        lines = [self.headline(), f"  by status: {dict(sorted(self.statuses.items()))}"]
        shown: Counter[tuple[str, str]] = Counter()
        for finding in self.findings:
            key = (finding.kind, finding.operation)
            shown[key] += 1
            if shown[key] <= limit:
                lines.append("  " + str(finding).replace("\n", "\n    "))
        return "\n".join(lines)


def credentials_for(
    operation: APIOperation, credentials: Credentials, turn: int
) -> tuple[dict[str, str], dict[str, str]]:
    """The headers and query parameters of one of the operation's documented ways in, taken in turn: its
    `security` (else the document's) lists alternatives, each a set of schemes that are all needed (the function
    key in a header or in `?code=`, with or without a bearer token; a token alone). An empty list, or an empty
    alternative, is anonymous: the signed channels, health and the document itself."""
    raw = operation.schema.raw_schema
    requirements = operation.definition.raw.get("security", raw.get("security", []))
    if not requirements:
        return {}, {}
    schemes = raw.get("components", {}).get("securitySchemes", {})
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    for name in requirements[turn % len(requirements)]:
        scheme = schemes[name]
        if scheme["type"] == "apiKey" and scheme["in"] in ("header", "query"):
            (headers if scheme["in"] == "header" else params)[scheme["name"]] = credentials.function_key
        elif scheme["type"] in ("http", "oauth2", "openIdConnect"):
            headers["Authorization"] = f"Bearer {credentials.bearer_token}"
        else:
            raise ValueError(f"{operation.label}: no credential for security scheme {name!r} ({scheme})")
    return headers, params


def fleet_values(target: Target) -> dict[str, list[str]]:
    """The query values that name the clouds of the tier's fleet: `cloud` (and the console's `id`) by ARM id,
    `ref` as a chat user types one (name, group/name, id)."""
    ids = [target.cloud_id(name) for name in target.clouds]
    first, second, *_ = target.clouds
    return {"cloud": ids, "id": ids, "ref": [first, f"{target.resource_group}/{second}", ids[-1]]}


def base_url(schema: BaseSchema, host_url: str) -> str:
    """The host's URL with the path of the document's first server (`/api`)."""
    servers = schema.raw_schema.get("servers") or [{"url": "/"}]
    return host_url.rstrip("/") + urllib.parse.urlparse(servers[0]["url"]).path.rstrip("/")


def hypothesis_settings(examples: int, derandomize: bool) -> settings:
    return settings(
        max_examples=examples,
        derandomize=derandomize,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # never shrink: report every failure, not one minimised
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )


@dataclass
class Fuzzer:
    schema: BaseSchema
    host_url: str  # http://127.0.0.1:port
    credentials: Credentials
    tally: Tally = field(default_factory=Tally)
    session: requests.Session = field(default_factory=requests.Session)

    # Where each answer said a resource it made lives (`Location`), as the operation path and its parameters:
    # ("/requests/{id}", {"id": "..."}). The linked pass sends cases to the resources that exist.
    made: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    # Query values that name things that exist (the fleet's clouds, by id and by name), which random strings
    # never do: the linked pass sends one case with each, so listings and lookups also answer 200.
    known: dict[str, list[str]] = field(default_factory=dict)

    @functools.cached_property
    def operations(self) -> list[APIOperation]:
        """Those that make things (POST) first, so the reads after them meet a request or an audit run."""
        found = []
        for result in self.schema.get_all_operations():
            if isinstance(result, Err):  # an operation schemathesis cannot read is a broken document, not a skip
                raise result.err()
            found.append(result.ok())
        return sorted(found, key=lambda op: (op.method.upper() != "POST", op.label))

    def run(self, examples: int, run_seed: int | None = None, only: Iterable[str] = (), linked: int = 3) -> Tally:
        """Every operation (or those whose label or operationId is in `only`): its document's examples, then
        `examples` positive and `examples` negative cases; then, for each operation with a path parameter, a
        positive case on each of up to `linked` resources earlier answers made (a request, an audit run), so
        reads, approvals and rejections meet real ids and not only 404. Derandomized without a seed."""
        wanted = set(only)
        chosen = [
            op for op in self.operations if not wanted or wanted & {op.label, op.definition.raw.get("operationId")}
        ]
        for operation in chosen:
            self.fuzz_operation(operation, examples, run_seed)
        for operation in chosen:
            self.follow_links(operation, linked, run_seed)
        return self.tally

    def follow_links(self, operation: APIOperation, limit: int, run_seed: int | None) -> None:
        """A positive case on each of up to `limit` resources made earlier whose path this operation's starts
        with (GET /requests/{id} and POST /requests/{id}/approve on a request a POST /requests made), and one
        with each known value of each query parameter it takes (GET /links?cloud= a cloud of the fleet)."""
        fixed: list[dict[str, Any]] = []
        if operation.path_parameters:
            resources = [params for path, params in self.made if operation.path.startswith(path)]
            unique = list(dict.fromkeys(tuple(sorted(p.items())) for p in resources))[:limit]
            fixed += [{"path_parameters": dict(params)} for params in unique]
        for parameter in operation.query:
            fixed += [{"query": {parameter.name: value}} for value in self.known.get(parameter.name, [])[:limit]]
        for index, values in enumerate(fixed):
            strategy = operation.as_strategy(**values)
            self._drive(operation, strategy, "linked", 1, None if run_seed is None else run_seed + index)

    def _remember(self, location: str) -> None:
        path = urllib.parse.urlparse(location).path
        prefix = urllib.parse.urlparse(base_url(self.schema, self.host_url)).path
        if not path.startswith(prefix + "/"):
            return
        path = path[len(prefix) :]
        for operation in self.operations:
            names = re.findall(r"{([^}]+)}", operation.path)
            if not names:
                continue
            pattern = re.escape(operation.path)
            for name in names:
                pattern = pattern.replace(re.escape("{" + name + "}"), f"(?P<{name}>[^/]+)")
            match = re.fullmatch(pattern, path)
            if match:
                self.made.append((operation.path, {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}))
                return

    def fuzz_operation(self, operation: APIOperation, examples: int, run_seed: int | None = None) -> None:
        self.tally.operations.append(operation.label)
        for index, strategy in enumerate(operation.get_strategies_from_examples()):
            self._drive(operation, strategy, "example", 1, None if run_seed is None else run_seed + index)
        for mode, generation_mode in MODES.items():
            strategy = operation.as_strategy(generation_mode=generation_mode)
            try:
                self._drive(operation, strategy, mode, examples, run_seed)
            except Unsatisfiable:
                # No parameter and no body (health, start an audit): nothing a case could break.
                assert mode == "negative", f"{operation.label}: no positive case could be generated"
                self.tally.no_negative.append(operation.label)

    def _drive(
        self, operation: APIOperation, strategy: st.SearchStrategy[Any], mode: str, examples: int, run_seed: int | None
    ) -> None:
        @hypothesis_settings(examples, derandomize=run_seed is None)
        @given(case=strategy)
        def send(case: schemathesis.Case) -> None:
            self.send(case, mode)

        if run_seed is not None:  # one seed per operation and mode, the same on every run
            send = seed(zlib.crc32(f"{run_seed}:{operation.label}:{mode}".encode()))(send)
        send()

    def send(self, case: schemathesis.Case, mode: str) -> None:
        operation = case.operation
        turn = sum(n for (label, _), n in self.tally.cases.items() if label == operation.label)
        headers, params = credentials_for(operation, self.credentials, turn)
        url = base_url(self.schema, self.host_url)
        self.tally.cases[operation.label, mode] += 1
        try:
            response = case.call(base_url=url, session=self.session, headers=headers, params=params, timeout=TIMEOUT)
        except requests.RequestException as exc:
            curl = case.as_curl_command(headers=headers, base_url=url)
            self._found("no answer", case, mode, None, type(exc).__name__, f"{exc}\n{curl}")
            return
        self.tally.statuses[response.status_code] += 1
        if 200 <= response.status_code < 300:
            for location in response.headers.get("location", []):
                self._remember(location)
        self.tally.by_operation.setdefault(operation.label, Counter())[response.status_code] += 1
        transport = {"base_url": url, "session": self.session, "headers": headers, "params": params}
        for kind, checks in KINDS.items():
            if kind != "5xx" and response.status_code >= 500:
                continue  # counted once, as a 5xx
            try:
                case.validate_response(response, checks=list(checks), headers=headers, transport_kwargs=transport)
            except FailureGroup as group:
                for failure in _failures(group):
                    self._found(kind, case, mode, response.status_code, failure.title, _detail(group, failure))

    def _found(
        self, kind: str, case: schemathesis.Case, mode: str, status: int | None, title: str, detail: str
    ) -> None:
        self.tally.findings.append(Finding(kind, case.operation.label, mode, status, title, detail))


def _failures(group: BaseExceptionGroup[Any]) -> list[Failure]:
    found: list[Failure] = []
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            found.extend(_failures(exc))
        elif isinstance(exc, Failure):
            found.append(exc)
    return found


def _detail(group: FailureGroup, failure: Failure) -> str:
    """The failure's message and the replay line schemathesis wrote for the group (its curl command)."""
    text = str(group.message if hasattr(group, "message") else group)
    curl = next((line.strip() for line in text.splitlines() if line.strip().startswith("curl ")), "")
    message = " ".join(failure.message.split())[:400]
    return f"{message}\n{curl}" if curl else message
