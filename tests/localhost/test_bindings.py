"""Reading an app's functions and bindings into what the host serves, with startup validation."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import azure.functions as func
import pytest
from azure.functions.servicebus import ServiceBusMessage
from azure.servicebus import ServiceBusReceivedMessage

from localdev.host.bindings import (
    FunctionSpec,
    HttpTrigger,
    ServiceBusTrigger,
    TimerTrigger,
    find_app,
    read_functions,
)
from localdev.host.settings import ConfigError

SAMPLE_APP = Path(__file__).parent / "apps" / "sample_app.py"
SETTINGS = {
    "SAMPLE_QUEUE": "q-plain",
    "SAMPLE_SESSION_QUEUE": "q-sessions",
    "SAMPLE_SCHEDULE": "*/5 * * * * *",
}


def fresh_sample_app() -> ModuleType:
    """A new module object each time: an app's get_functions() may be called only once."""
    spec = importlib.util.spec_from_file_location("sample_app_under_test", SAMPLE_APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def functions() -> dict[str, FunctionSpec]:
    return {f.name: f for f in read_functions(find_app(fresh_sample_app()), SETTINGS)}


def test_http_functions_have_routes_methods_and_auth_levels(functions: dict[str, FunctionSpec]) -> None:
    echo, ping, unrouted = functions["echo"], functions["ping"], functions["unrouted"]
    assert isinstance(echo.trigger, HttpTrigger)
    assert (echo.trigger.route.template, echo.trigger.methods, echo.trigger.auth_level) == (
        "echo/{id}",
        ("GET", "POST"),
        "function",
    )
    assert echo.trigger_arg == "req"
    assert isinstance(ping.trigger, HttpTrigger) and ping.trigger.auth_level == "anonymous"
    assert isinstance(unrouted.trigger, HttpTrigger)
    assert unrouted.trigger.route.template == "unrouted"  # no route: the function name
    assert unrouted.trigger.methods == ()  # no methods: all of them
    assert unrouted.wants_context and not echo.wants_context
    nothing = functions["nothing"].trigger
    assert isinstance(nothing, HttpTrigger) and nothing.auth_level == "admin"


def test_service_bus_functions_have_resolved_queues_and_connections(functions: dict[str, FunctionSpec]) -> None:
    plain, sessions = functions["on_message"].trigger, functions["on_session_message"].trigger
    assert plain == ServiceBusTrigger(queue_name="q-plain", connection="ServiceBusConnection", sessions=False)
    assert sessions == ServiceBusTrigger(queue_name="q-sessions", connection="ServiceBusConnection", sessions=True)
    assert functions["on_message"].trigger_arg == "msg"


def test_timer_functions_have_resolved_schedules(functions: dict[str, FunctionSpec]) -> None:
    tick = functions["tick"].trigger
    assert isinstance(tick, TimerTrigger)
    assert tick.schedule.expression == "*/5 * * * * *"
    assert tick.schedule.seconds == frozenset(range(0, 60, 5))
    assert tick.run_on_startup is False


def test_handlers_are_the_user_functions(functions: dict[str, FunctionSpec]) -> None:
    assert functions["ping"].handler(func.HttpRequest("GET", "/api/public/ping", body=b"")) == "pong"


def test_an_unset_setting_is_named() -> None:
    settings = {k: v for k, v in SETTINGS.items() if k != "SAMPLE_QUEUE"}
    with pytest.raises(ConfigError, match=r"'on_message'.*'SAMPLE_QUEUE'"):
        read_functions(find_app(fresh_sample_app()), settings)


def test_a_module_without_an_app_is_rejected() -> None:
    with pytest.raises(ConfigError, match="no FunctionApp"):
        find_app(ModuleType("empty"))


def test_a_module_with_two_apps_is_rejected() -> None:
    module = ModuleType("two")
    module.a, module.b = func.FunctionApp(), func.FunctionApp()  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="2 FunctionApp"):
        find_app(module)


def test_an_sdk_typed_service_bus_trigger_is_refused_with_what_to_annotate_instead() -> None:
    app = func.FunctionApp()

    @app.service_bus_queue_trigger(arg_name="msg", queue_name="q", connection="ServiceBusConnection")
    def typed(msg: ServiceBusReceivedMessage) -> None: ...

    with pytest.raises(ConfigError) as refused:
        read_functions(app, {})
    message = str(refused.value)
    assert "function 'typed': trigger parameter 'msg' is annotated azure.servicebus" in message
    assert "ServiceBusReceivedMessage" in message
    assert "SDK-typed Service Bus triggers" in message and "annotate it func.ServiceBusMessage" in message


def test_a_service_bus_trigger_may_be_unannotated_or_take_the_workers_message_type() -> None:
    app = func.FunctionApp()

    @app.service_bus_queue_trigger(arg_name="msg", queue_name="q1", connection="ServiceBusConnection")
    def plain(msg) -> None: ...

    @app.service_bus_queue_trigger(arg_name="msg", queue_name="q2", connection="ServiceBusConnection")
    def concrete(msg: ServiceBusMessage) -> None: ...

    assert sorted(f.name for f in read_functions(app, {})) == ["concrete", "plain"]


def test_unsupported_trigger_type_names_the_function() -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="item", queue_name="q", connection="AzureWebJobsStorage")
    def storage_queue(item: func.QueueMessage) -> None: ...

    with pytest.raises(ConfigError, match=r"'storage_queue'.*'queueTrigger' is not supported"):
        read_functions(app, {})


def test_batch_cardinality_is_rejected() -> None:
    app = func.FunctionApp()

    @app.service_bus_queue_trigger(arg_name="msgs", queue_name="q", connection="C", cardinality=func.Cardinality.MANY)
    def batch(msgs: list[func.ServiceBusMessage]) -> None: ...

    with pytest.raises(ConfigError, match="cardinality MANY"):
        read_functions(app, {})


def test_output_bindings_are_rejected() -> None:
    app = func.FunctionApp()

    @app.route(route="send")
    @app.service_bus_queue_output(arg_name="out", queue_name="q", connection="C")
    def send(req: func.HttpRequest, out: func.Out[str]) -> str:
        return "ok"

    with pytest.raises(ConfigError, match=r"'send': binding 'out' of type 'serviceBus'"):
        read_functions(app, {})


def test_parameters_without_bindings_are_rejected() -> None:
    app = func.FunctionApp()

    @app.schedule(arg_name="timer", schedule="0 * * * * *")
    def odd(timer: func.TimerRequest, extra: int) -> None: ...

    with pytest.raises(ConfigError, match=r"parameters \['extra'\] have no binding"):
        read_functions(app, {})


def test_an_invalid_schedule_names_the_function() -> None:
    app = func.FunctionApp()

    @app.schedule(arg_name="timer", schedule="%S%")
    def bad(timer: func.TimerRequest) -> None: ...

    with pytest.raises(ConfigError, match=r"'bad'.*'0 0 25 \* \* \*'"):
        read_functions(app, {"S": "0 0 25 * * *"})


def test_every_problem_is_reported_at_once() -> None:
    app = func.FunctionApp()

    @app.schedule(arg_name="timer", schedule="%MISSING_ONE%")
    def one(timer: func.TimerRequest) -> None: ...

    @app.schedule(arg_name="timer", schedule="%MISSING_TWO%")
    def two(timer: func.TimerRequest) -> None: ...

    with pytest.raises(ConfigError, match=r"MISSING_ONE.*MISSING_TWO"):
        read_functions(app, {})


def test_retry_policies_are_read() -> None:
    app = func.FunctionApp()

    @app.schedule(arg_name="timer", schedule="0 * * * * *")
    @app.retry(
        strategy="exponential_backoff", max_retry_count="3", minimum_interval="00:00:01", maximum_interval="00:00:05"
    )
    def audited(timer: func.TimerRequest) -> None: ...

    (spec,) = read_functions(app, {})
    assert spec.retry is not None
    assert [spec.retry.delay_before(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
