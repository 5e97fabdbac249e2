"""Which functions share an instance: Flex Consumption's per-function scaling, as instance groups.

On Flex Consumption, HTTP-triggered functions scale together on their own instances, Blob (Event Grid)
and Durable triggers form groups of their own, and every other function (each Service Bus trigger, each
timer) scales individually on its own instances (learn.microsoft.com/azure/azure-functions/
flex-consumption-plan#per-function-scaling). The local host runs each group in processes of its own, so a
queue worker's ARM and Table work never competes with HTTP acknowledgements for one interpreter. Group names
follow Flex's always-ready names: `http`, and `function:<name>` for a function on its own.

Flex also scales a group out, adding instances as load grows; for Python the HTTP group's default
per-instance concurrency is 1 (learn.microsoft.com/azure/azure-functions/functions-concurrency#http-trigger-
concurrency), so a burst of requests is spread over many interpreters rather than queued behind one. The
local host runs a fixed number of HTTP instances (`http#1` ... `http#N`) sharing one port, and one instance
of every other group.

The listing of what a function serves lives here too, because the host's parent process prints it
without importing the machinery (HTTP server, Service Bus SDK) that only an instance needs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from localdev.host.bindings import FunctionSpec, HttpTrigger, ServiceBusTrigger, TimerTrigger
from localdev.host.settings import HostOptions

HTTP_GROUP = "http"
# `--instances single`: every function in the host process itself.
SINGLE_GROUP = "host"


@dataclass(frozen=True)
class InstanceGroup:
    """Functions that run in one process, and whether that process is the HTTP front end."""

    name: str
    functions: tuple[FunctionSpec, ...]
    serves_http: bool


def flex_groups(functions: Iterable[FunctionSpec]) -> list[InstanceGroup]:
    """The HTTP group first, then one group per other function, in the app's order.

    The HTTP group exists even when the app has no HTTP function: its port is how callers learn
    that the host is up (it then answers 404 to everything).
    """
    specs = list(functions)
    http = InstanceGroup(HTTP_GROUP, tuple(f for f in specs if isinstance(f.trigger, HttpTrigger)), True)
    others = [InstanceGroup(f"function:{f.name}", (f,), False) for f in specs if not isinstance(f.trigger, HttpTrigger)]
    return [http, *others]


@dataclass(frozen=True)
class FlexInstance:
    """One process of an instance group; its name prefixes its log lines and names it in the ready line."""

    name: str
    group: InstanceGroup


def flex_instances(groups: Iterable[InstanceGroup], http_instances: int) -> list[FlexInstance]:
    """`http#1` ... `http#N` for the HTTP group, then one instance of every other group, in order.

    HTTP instances are always numbered, even when there is one, so a log line names its process the same
    way whatever `--http-instances` is.
    """
    instances = []
    for group in groups:
        if group.serves_http:
            instances += [FlexInstance(f"{group.name}#{n}", group) for n in range(1, http_instances + 1)]
        else:
            instances.append(FlexInstance(group.name, group))
    return instances


def port_sharing_supported() -> bool:
    """Whether several processes can serve one port with the kernel spreading connections among them.

    Linux's SO_REUSEPORT balances the connections of one port over every socket bound to it. Elsewhere the
    option either is missing or hands every connection to one socket, so there is one HTTP instance.
    """
    return sys.platform == "linux"


def default_http_instances() -> int:
    """One HTTP instance per CPU this process may run on (`--http-instances` default), at least 1.

    On Flex each instance has its own machine; here the instances share this one. One busy process per core
    already lets every core answer requests at once; more processes than cores only take turns on the
    same cores (context switches, cache misses) and cost a copy of the app each.
    """
    if not port_sharing_supported():
        return 1
    return max(1, len(os.sched_getaffinity(0)))


def single_group(functions: Iterable[FunctionSpec]) -> InstanceGroup:
    return InstanceGroup(SINGLE_GROUP, tuple(functions), True)


def service_bus_concurrency(spec: FunctionSpec, options: HostOptions) -> int:
    """Concurrency slots of a queue-triggered function on one instance (host.json)."""
    assert isinstance(spec.trigger, ServiceBusTrigger)
    return options.max_concurrent_sessions if spec.trigger.sessions else options.max_concurrent_calls


def describe(spec: FunctionSpec, options: HostOptions, host: str, port: int) -> str:
    """One function's entry in the host's ready line: its URL, queue or schedule."""
    trigger = spec.trigger
    if isinstance(trigger, HttpTrigger):
        methods = ",".join(trigger.methods) or "ALL"
        path = "/".join(p for p in (options.route_prefix, trigger.route.template.strip("/")) if p)
        return f"{spec.name}: [{methods}] http://{host}:{port}/{path}"
    if isinstance(trigger, ServiceBusTrigger):
        sessions = ", sessions" if trigger.sessions else ""
        return (
            f"{spec.name}: serviceBus queue {trigger.queue_name!r} "
            f"(connection {trigger.connection}{sessions}, {service_bus_concurrency(spec, options)} concurrent)"
        )
    assert isinstance(trigger, TimerTrigger)
    return f"{spec.name}: timer {trigger.schedule.expression!r} (UTC)"
