"""The API fuzzed from its own OpenAPI document (issue 17): 0 x 5xx and 0 answers that break the document.

schemathesis draws the cases from the document the app serves at GET /api/openapi.json: for every operation,
its examples, then a few cases that fit the schemas and a few that break them, each with the credentials the
operation documents, then a few on the requests and audit runs those cases made (tests/security/schemafuzz.py
says how each answer is judged). On a local cloud of its own, configured like the rest of the tier (every
channel, fake secrets, approvals off, timers that never fire), so the requests and audits its valid cases
start touch no other test's clouds. Derandomized and few per operation, to keep the tier deterministic and
quick (about 35 s with the cloud's start); `python -m bench.openapi_fuzz` sends many more.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localdev import identity
from tests.e2e.conftest import FUNCTION_KEY, app_on, new_cloud
from tests.e2e.sink import Sink
from tests.security.conftest import FLEET, TARGET, app_settings, http_routes
from tests.security.schemafuzz import SERVED_AT, Credentials, Fuzzer, Tally, fleet_values, load

pytestmark = pytest.mark.security

EXAMPLES = 8  # per operation and mode (positive, negative), besides the document's own examples
# The signed channels are anonymous at the host and checked by each sender's signature over the body: a case
# drawn from the document carries no valid signature, so none may be accepted.
SIGNED = ("/hooks/", "/chat/")


@pytest.fixture(scope="module")
def tally(sink: Sink) -> Iterator[Tally]:
    with new_cloud(app_settings(sink.url), "openapi-fuzz") as cloud:
        app = app_on(cloud)
        app.arm.load_fleet(FLEET)
        schema = load(f"{cloud.host_url}{SERVED_AT}")
        credentials = Credentials(FUNCTION_KEY, identity.token(cloud.identity_url, user="bob"))
        yield Fuzzer(schema, cloud.host_url, credentials, known=fleet_values(TARGET)).run(EXAMPLES)


def test_every_route_the_app_registers_is_an_operation_of_the_document(tally: Tally) -> None:
    registered = {f"{method.upper()} /{route.template}" for route in http_routes() for method in route.methods}
    assert registered <= set(tally.operations), (
        f"not fuzzed (not in the document): {registered - set(tally.operations)}"
    )


def test_no_5xx_and_no_answer_that_breaks_the_document(tally: Tally) -> None:
    print(tally.headline())
    assert not tally.findings, tally.report()
    assert tally.server_errors == 0, tally.report()
    # Every operation got cases that fit the document, and ones that break it wherever it takes anything.
    for operation in tally.operations:
        assert tally.cases[operation, "positive"] > 0, operation
        assert tally.cases[operation, "negative"] > 0 or operation in tally.no_negative, operation
    # Reads and decisions also met requests and audit runs that exist (not only random ids answered 404).
    for operation in ("GET /requests/{id}", "POST /requests/{id}/approve", "GET /audits/{id}"):
        assert tally.cases[operation, "linked"] > 0, f"{operation}: no case on a resource an answer made"
    # ... and lookups met the fleet's clouds: a cloud's links and a name resolved answer 200 too.
    for operation in ("GET /requests/{id}", "GET /links", "GET /clouds", "GET /console/cloud"):
        assert 200 in tally.by_operation[operation], f"{operation}: {dict(tally.by_operation[operation])}"


def test_unsigned_channel_payloads_are_refused_not_failed(tally: Tally) -> None:
    signed = {op: statuses for op, statuses in tally.by_operation.items() if any(s in op for s in SIGNED)}
    assert signed, "the document describes no signed channel route"
    for operation, statuses in signed.items():
        assert statuses[401] > 0, f"{operation}: no unsigned case answered 401: {dict(statuses)}"
        assert all(400 <= status < 500 for status in statuses), f"{operation}: {dict(statuses)}"
