"""The app's registered functions over fake services: the in-memory adapters composed by `bootstrap.wire`, the
same composition the deployed app gets, handed to every function through the `services()` cache.

What the tests build by hand is what the host hands a function: `azure.functions.HttpRequest`s, a
`TimerRequest`, and for the queue trigger the `azure.functions.ServiceBusMessage` the worker builds for the
standard binding (tests/trigger_messages.py). Bearer tokens are minted
by the local identity stand-in's signing code (localdev/identity) and checked with its public key.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import azure.functions as func

from interconnect.adapters.memory import (
    InMemoryAuditStore,
    InMemoryAvs,
    InMemoryQuarantine,
    InMemoryRequestStore,
    InMemoryWorkQueue,
)
from interconnect.app.bootstrap import Services, wire
from interconnect.app.settings import Settings
from interconnect.channels import signatures
from interconnect.console.signin import SignInEndpoints
from interconnect.linking.model import AuditEvent, Callback, LinkRequest
from interconnect.linking.queue import WorkItem
from localdev import identity
from tests.e2e import contract
from tests.factories import SUB_A, Clock, cloud, cloud_id
from tests.functions.registered import INDEXED, user_function
from tests.trigger_messages import delivered

BASE = "https://interconnect.test"
IDENTITY_URL = "https://identity.test"
# Obviously fake secrets, for signing what the tests send.
HOOK_SECRET = "whsec_" + base64.b64encode(b"fake-hook-secret-for-function-tests").decode()
SLACK_SECRET = "fake-slack-signing-secret"
TEAMS_SECRET = base64.b64encode(b"fake-teams-secret-for-function-tests").decode()

ENV = {
    "INTERCONNECT_TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true",  # never opened: the store is in memory
    "ServiceBusConnection": "Endpoint=sb://fake.test/;SharedAccessKeyName=k;SharedAccessKey=fake",
    "INTERCONNECT_SUBSCRIPTIONS": SUB_A,
    "INTERCONNECT_HOOKS": json.dumps({"cmdb": {"type": "standard-webhooks"}}),
    "INTERCONNECT_HOOK_SECRETS": json.dumps({"cmdb": {"signing": [HOOK_SECRET]}}),
    "INTERCONNECT_SLACK_SIGNING_SECRETS": SLACK_SECRET,
    "INTERCONNECT_TEAMS_SECRETS": TEAMS_SECRET,
    "INTERCONNECT_AUTH_ISSUER": identity.issuer(IDENTITY_URL),
    "INTERCONNECT_AUTH_AUDIENCE": identity.audience(),
    "INTERCONNECT_CONSOLE_CLIENT_ID": identity.CLIENT_ID,
    "INTERCONNECT_ARM_AUTH": "none",
}


@dataclass
class TenantKeys:
    """`SigningKeys` as the tenant publishes them: the stand-in authority's one public key, by its key id."""

    authority: identity.Authority

    def key_for(self, kid: str) -> Any | None:
        return self.authority.key.public_key() if kid == self.authority.kid else None


@dataclass
class TenantMetadata:
    """`SignInMetadata` as the tenant publishes it: the stand-in's endpoints, or `failure` raised (an outage)."""

    base_url: str
    failure: Exception | None = None

    def endpoints(self) -> SignInEndpoints:
        if self.failure is not None:
            raise self.failure
        return SignInEndpoints(
            f"{self.base_url}/{identity.TENANT}/oauth2/v2.0/authorize",
            f"{self.base_url}/{identity.TENANT}/oauth2/v2.0/token",
        )


@dataclass
class RecordingNotifier:
    """Channel deliveries land here instead of going out over HTTP."""

    delivered: list[tuple[Callback, str, str]] = field(default_factory=list)

    def deliver(self, callback: Callback, request: LinkRequest, event: AuditEvent) -> None:
        self.delivered.append((callback, request.id, event.status.value))


class FakeApp:
    """One app: in-memory store, queue, AVS (three clouds, one link), audit store and quarantine behind `wire`."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.store, self.queue, self.avs = InMemoryRequestStore(), InMemoryWorkQueue(), InMemoryAvs()
        self.audit_store = InMemoryAuditStore(self.store)
        self.quarantine = InMemoryQuarantine()
        self.notifier = RecordingNotifier()
        self.authority = identity.Authority(IDENTITY_URL)
        self.metadata = TenantMetadata(IDENTITY_URL)
        self.a, self.b, self.c = cloud_id("pc-a"), cloud_id("pc-b"), cloud_id("pc-c")
        self.avs.add(cloud(self.a, block="10.0.0.0/22"))
        self.avs.add(cloud(self.b, block="10.0.4.0/22"))
        self.avs.add(cloud(self.c, block="10.0.8.0/22"))
        self.services: Services = wire(
            Settings.from_env(ENV),
            self.store,
            self.queue,
            self.avs,
            self.clock,
            notifier=self.notifier,
            audit_store=self.audit_store,
            signing_keys=TenantKeys(self.authority),
            quarantine=self.quarantine,
            sign_in_metadata=self.metadata,
        )

    # -- calling the registered functions ---------------------------------------------------------------

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Invoke the function registered as `name` as the host would; an HTTP function's answer must be one the
        OpenAPI document allows for its route (tests/e2e/contract.py), or the test that called it fails."""
        result = user_function(name)(*args, **kwargs)
        if isinstance(result, func.HttpResponse) and args and isinstance(args[0], func.HttpRequest):
            check_answer(name, args[0], result)
        return result

    def token(self, **ask: Any) -> str:
        """An access token the stand-in tenant signs: `user="bob"` or `app="automation"`, plus overrides."""
        token: str = self.authority.mint(ask)["access_token"]
        return token

    # -- driving the fakes ------------------------------------------------------------------------------

    def drain(self, *, wait: bool = True) -> list[str]:
        """Deliver queued work items through the registered queue trigger, as Service Bus would, and return the
        message ids delivered (each function returned, so the host completes it; a raise propagates). `wait` also
        delivers scheduled items, moving the clock to each one's time and letting AVS finish its operations
        first; without it, only what is due now is delivered."""
        completed: list[str] = []
        while due := [(item, at) for item, at in self.queue.sent if wait or at is None or at <= self.clock.now]:
            item, at = due[0]
            self.queue.sent.remove((item, at))
            if at is not None and at > self.clock.now:
                self.clock.now = at
                self.avs.settle()
            self.call("process_work_item", delivered(item.encode().encode(), message_id=item.message_id))
            completed.append(item.message_id)
        return completed

    def queued(self) -> list[WorkItem]:
        return [item for item, _ in self.queue.sent]


def check_answer(name: str, req: func.HttpRequest, response: func.HttpResponse) -> None:
    """Hold `response` to the document's operation for the route function `name` is registered on."""
    binding = next(b for b in json.loads(INDEXED[name].get_function_json())["bindings"] if b["direction"] == "IN")
    path = binding["route"]
    for param, value in req.route_params.items():
        path = path.replace(f"{{{param}}}", quote(value, safe="") or "_")
    headers = {**response.headers, "Content-Type": f"{response.mimetype}; charset={response.charset}"}
    body = response.get_body() or b""
    contract.check(binding["methods"][0], path, response.status_code, headers, body)


def request(
    method: str,
    path: str,
    *,
    json_body: Any = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    route: dict[str, str] | None = None,
) -> func.HttpRequest:
    """An HttpRequest as the host builds it for `<BASE>/api/<path>`."""
    if json_body is not None:
        body = json.dumps(json_body).encode()
    url = f"{BASE}/api/{path}" + (f"?{urlencode(params)}" if params else "")
    return func.HttpRequest(
        method, url, headers=headers or {}, params=params or {}, route_params=route or {}, body=body
    )


def answer(response: func.HttpResponse) -> Any:
    """The JSON body of a response (asserting it says it is JSON)."""
    assert response.mimetype == "application/json"
    return json.loads(response.get_body())


def error_of(response: func.HttpResponse, status: int) -> dict[str, Any]:
    """The `{"error": {"code", "message"}}` body of an error response with `status`; asserts its shape."""
    assert response.status_code == status, response.get_body()
    body = answer(response)
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


def standard_webhook(
    payload: dict[str, Any], *, msg_id: str = "msg-1", secret: str = HOOK_SECRET
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(payload).encode()
    return raw, signatures.sign_standard_webhook(secret, msg_id, int(time.time()), raw)


def slack_signed(form: dict[str, str], secret: str = SLACK_SECRET) -> tuple[bytes, dict[str, str]]:
    raw = urlencode(form).encode()
    return raw, signatures.sign_slack(secret, int(time.time()), raw)


def teams_signed(activity: dict[str, Any], secret: str = TEAMS_SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(activity).encode()
    return raw, signatures.sign_teams(secret, raw)


Raiser = Callable[..., Any]


def raising(error: BaseException) -> Raiser:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    return fail
