"""The composition root: build adapters from settings and hand them to the services. Nothing at import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from interconnect.approvals import Approvals
from interconnect.intake import Intake
from interconnect.policy import load_policy
from interconnect.ports import AvsGateway, RequestStore, WorkQueue
from interconnect.preflight import Preflight
from interconnect.queries import Queries
from interconnect.settings import Settings
from interconnect.sweeper import Sweeper
from interconnect.worker import Worker


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    intake: Intake
    worker: Worker
    queries: Queries
    sweeper: Sweeper
    approvals: Approvals


def wire(settings: Settings, store: RequestStore, queue: WorkQueue, avs: AvsGateway,
         clock: Callable[[], datetime] = utcnow) -> Services:
    """Services over the given ports (tests pass fakes here)."""
    preflight = Preflight(avs, store, load_policy(settings.policy))
    return Services(
        intake=Intake(store, queue, clock),
        worker=Worker(store, queue, avs, preflight, clock, poll_interval=settings.poll_interval,
                      operation_timeout=settings.operation_timeout, approvals=settings.approvals,
                      approval_timeout=settings.approval_timeout),
        approvals=Approvals(store, queue, clock, preflight.policy),
        queries=Queries(store, avs, queue, preflight),
        sweeper=Sweeper(store, queue, clock, stale_after=settings.stale_after),
    )


def build_services(settings: Settings | None = None) -> Services:
    """Services over the real adapters named by the settings."""
    from interconnect.adapters.avs import AvsSdkGateway, is_local
    from interconnect.adapters.servicebus import ServiceBusWorkQueue
    from interconnect.adapters.tables import TableRequestStore

    settings = settings or Settings.from_env()
    needs_identity = (not settings.tables_connection_string or not settings.servicebus_connection_string
                      or not is_local(settings.arm_endpoint))
    credential = _credential(settings) if needs_identity else None
    store = TableRequestStore.from_settings(connection_string=settings.tables_connection_string,
                                            endpoint=settings.tables_endpoint, credential=credential,
                                            prefix=settings.table_prefix)
    store.ensure_tables()
    queue = ServiceBusWorkQueue.from_settings(queue_name=settings.queue_name,
                                              connection_string=settings.servicebus_connection_string,
                                              namespace=settings.servicebus_namespace, credential=credential)
    avs = AvsSdkGateway(credential, base_url=settings.arm_endpoint)
    return wire(settings, store, queue, avs)


def _credential(settings: Settings):  # type: ignore[no-untyped-def]
    from azure.identity import DefaultAzureCredential

    # A user-assigned identity is picked by client id; without one DefaultAzureCredential finds the rest.
    return DefaultAzureCredential(managed_identity_client_id=settings.managed_identity_client_id or None)
