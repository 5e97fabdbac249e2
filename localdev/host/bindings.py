"""Read the functions a v2 `function_app.py` registers into plain descriptions the host can serve.

This mirrors what the Functions host learns from the Python worker's indexing: it imports the app
module, finds its single `FunctionApp`/`Blueprint`-registering object, calls `get_functions()` once
(a second call raises) and reads each function's generated function.json. `%SETTING%` references in
binding properties are resolved here, so a missing setting stops the host at startup with its name,
as it stops the Functions host.
"""

from __future__ import annotations

import importlib
import inspect
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from azure.functions import ServiceBusMessage
from azure.functions.decorators.function_app import Function, FunctionRegister

from localdev.host.routes import RouteTemplate
from localdev.host.settings import ConfigError, parse_timespan, resolve

if TYPE_CHECKING:
    from localdev.host.ncrontab import Schedule

HTTP_TRIGGER = "httpTrigger"
SERVICE_BUS_TRIGGER = "serviceBusTrigger"
TIMER_TRIGGER = "timerTrigger"
_HTTP_OUTPUT = "http"
_RETURN = "$return"
# The Python worker passes an invocation context to a parameter of this name when one is declared.
CONTEXT_PARAMETER = "context"

AUTH_ANONYMOUS = "anonymous"
AUTH_LEVELS = (AUTH_ANONYMOUS, "function", "admin")


@dataclass(frozen=True)
class HttpTrigger:
    route: RouteTemplate
    methods: tuple[str, ...]  # empty: every method
    auth_level: str

    kind = "http"


@dataclass(frozen=True)
class ServiceBusTrigger:
    queue_name: str
    connection: str
    sessions: bool
    auto_complete: bool = True

    kind = "serviceBus"


@dataclass(frozen=True)
class TimerTrigger:
    schedule: Schedule
    run_on_startup: bool

    kind = "timer"


Trigger = HttpTrigger | ServiceBusTrigger | TimerTrigger


@dataclass(frozen=True)
class RetryPolicy:
    """`@app.retry`: the host retries a failed invocation (honoured for timer triggers only)."""

    strategy: str  # "fixed_delay" or "exponential_backoff"
    max_retry_count: int  # -1: retry forever
    delay: float = 0.0
    minimum_interval: float = 0.0
    maximum_interval: float = 0.0

    def delay_before(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        if self.strategy == "fixed_delay":
            return self.delay
        return min(self.maximum_interval, self.minimum_interval * 2 ** (retry - 1))


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    trigger: Trigger
    trigger_arg: str
    handler: Callable[..., Any]
    wants_context: bool
    retry: RetryPolicy | None


def load_app(module_name: str) -> FunctionRegister:
    """Import the app module and return its one function-registering object, as the worker does."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"cannot import app module {module_name!r}: {e}") from e
    return find_app(module)


def find_app(module: ModuleType) -> FunctionRegister:
    """The module's one FunctionApp (or other FunctionRegister); two or none is an error."""
    apps = {id(v): v for v in vars(module).values() if isinstance(v, FunctionRegister)}
    if not apps:
        raise ConfigError(f"module {module.__name__!r} defines no FunctionApp")
    if len(apps) > 1:
        raise ConfigError(
            f"module {module.__name__!r} defines {len(apps)} FunctionApp objects; "
            "the Functions host accepts exactly one"
        )
    return next(iter(apps.values()))


def read_functions(app: FunctionRegister, settings: Mapping[str, str]) -> list[FunctionSpec]:
    """Describe every function of `app`; raise ConfigError listing every problem found."""
    try:
        functions = app.get_functions()
    except ValueError as e:  # e.g. two functions with one name
        raise ConfigError(f"cannot index the app: {e}") from None
    specs, problems = [], []
    for function in functions:
        try:
            specs.append(_read_function(function, settings))
        except ConfigError as e:
            problems.append(str(e))
    if problems:
        raise ConfigError("; ".join(problems))
    return specs


def _read_function(function: Function, settings: Mapping[str, str]) -> FunctionSpec:
    name = function.get_function_name()
    bindings = json.loads(function.get_function_json())["bindings"]
    triggers = [b for b in bindings if str(b["type"]).endswith("Trigger")]
    if len(triggers) != 1:
        raise ConfigError(f"function {name!r} must have exactly one trigger, found {len(triggers)}")
    binding = triggers[0]
    trigger = _read_trigger(name, binding, settings)
    for other in bindings:
        supported_output = (
            isinstance(trigger, HttpTrigger) and other["type"] == _HTTP_OUTPUT and other["name"] == _RETURN
        )
        if other is not binding and not supported_output:
            raise ConfigError(
                f"function {name!r}: binding {other['name']!r} of type {other['type']!r} "
                "is not supported by the local host (use the Azure SDK in the function)"
            )
    handler = function.get_user_function()
    try:
        hints = typing.get_type_hints(handler)  # as the worker resolves them, string annotations too
    except (NameError, TypeError) as e:
        raise ConfigError(f"function {name!r}: cannot resolve its parameter annotations: {e}") from None
    if isinstance(trigger, ServiceBusTrigger):
        _check_message_type(name, binding["name"], hints.get(binding["name"]))
    wants_context = _check_parameters(name, handler, [b["name"] for b in bindings if b["name"] != _RETURN])
    return FunctionSpec(name, trigger, binding["name"], handler, wants_context, _read_retry(name, function))


def _check_message_type(name: str, parameter: str, annotation: Any) -> None:
    """Apply the worker's rule for a single-message Service Bus trigger: it takes `func.ServiceBusMessage`.

    The SDK-typed binding (`azurefunctions-extensions-bindings-servicebus`, which passes an
    `azure.servicebus.ServiceBusReceivedMessage` and message actions) is a pre-release this host does not
    emulate; refusing it here beats a function that fails on its first message.
    """
    if annotation is None or (isinstance(annotation, type) and issubclass(annotation, ServiceBusMessage)):
        return
    shown = getattr(annotation, "__qualname__", None) or repr(annotation)
    module = getattr(annotation, "__module__", "")
    raise ConfigError(
        f"function {name!r}: trigger parameter {parameter!r} is annotated {module + '.' if module else ''}{shown}, "
        "but the local host passes azure.functions.ServiceBusMessage only; SDK-typed Service Bus triggers "
        "(azurefunctions-extensions-bindings-servicebus) are not supported: annotate it func.ServiceBusMessage"
    )


def _read_trigger(name: str, binding: dict[str, Any], settings: Mapping[str, str]) -> Trigger:
    where = f"function {name!r}"
    kind = binding["type"]
    if kind == HTTP_TRIGGER:
        auth_level = str(binding.get("authLevel", "function")).lower()
        if auth_level not in AUTH_LEVELS:
            raise ConfigError(f"{where}: unknown auth level {auth_level!r}")
        route = RouteTemplate.parse(binding.get("route") or name)
        methods = tuple(str(m).upper() for m in binding.get("methods") or ())
        return HttpTrigger(route, methods, auth_level)
    if kind == SERVICE_BUS_TRIGGER:
        if "topicName" in binding:
            raise ConfigError(f"{where}: Service Bus topic triggers are not supported by the local host")
        if str(binding.get("cardinality", "one")).lower() != "one":
            raise ConfigError(f"{where}: cardinality MANY (batches) is not supported by the local host")
        return ServiceBusTrigger(
            queue_name=resolve(str(binding["queueName"]), settings, f"{where} queueName"),
            connection=str(binding.get("connection") or "AzureWebJobsServiceBus"),
            sessions=bool(binding.get("isSessionsEnabled", False)),
            auto_complete=binding.get("autoCompleteMessages") is not False,
        )
    if kind == TIMER_TRIGGER:
        from localdev.host.ncrontab import CronError, Schedule  # only apps with timers pay for it

        expression = resolve(str(binding["schedule"]), settings, f"{where} schedule")
        try:
            schedule = Schedule.parse(expression)
        except CronError as e:
            raise ConfigError(
                f"{where}: {e} (TimeSpan schedules are not supported on Consumption/Flex plans, nor here)"
            ) from None
        return TimerTrigger(schedule, bool(binding.get("runOnStartup", False)))
    raise ConfigError(
        f"{where}: trigger type {kind!r} is not supported by the local host "
        f"(supported: {HTTP_TRIGGER}, {SERVICE_BUS_TRIGGER}, {TIMER_TRIGGER})"
    )


def _check_parameters(name: str, handler: Callable[..., Any], binding_names: list[str]) -> bool:
    """Apply the worker's rule: parameters and bindings must correspond; `context` is extra."""
    parameters = set(inspect.signature(handler).parameters)
    unbound = parameters - set(binding_names) - {CONTEXT_PARAMETER}
    missing = set(binding_names) - parameters
    if unbound or missing:
        raise ConfigError(
            f"function {name!r}: parameters {sorted(unbound)} have no binding and "
            f"bindings {sorted(missing)} have no parameter"
        )
    return CONTEXT_PARAMETER in parameters and CONTEXT_PARAMETER not in binding_names


def _read_retry(name: str, function: Function) -> RetryPolicy | None:
    settings = function.get_settings_dict("retry_policy")
    if not settings:
        return None
    where = f"function {name!r} retry policy"
    strategy = str(settings.get("strategy", "")).lower()
    if strategy not in ("fixed_delay", "exponential_backoff"):
        raise ConfigError(f"{where}: unknown strategy {strategy!r}")

    def span(key: str) -> float:
        value = settings.get(key)
        return parse_timespan(str(value), f"{where} {key}") if value else 0.0

    return RetryPolicy(
        strategy,
        int(settings.get("max_retry_count", 0)),
        span("delay_interval"),
        span("minimum_interval"),
        span("maximum_interval"),
    )
