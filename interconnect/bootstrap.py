"""The composition root: build adapters from settings and hand them to the services. Nothing at import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from interconnect.adapters.notifier import HttpNotifier
from interconnect.approvals import Approvals
from interconnect.channels import parse_channels
from interconnect.inbound import Inbound
from interconnect.intake import Intake
from interconnect.notifications import AnnouncingStore, Deliveries
from interconnect.policy import load_policy
from interconnect.ports import AvsGateway, Notifier, RequestStore, WorkQueue
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
    inbound: Inbound


def wire(settings: Settings, store: RequestStore, queue: WorkQueue, avs: AvsGateway,
         clock: Callable[[], datetime] = utcnow, notifier: Notifier | None = None) -> Services:
    """Services over the given ports (tests pass fakes here)."""
    channels = parse_channels(settings.hooks, settings.hook_secrets, settings.slack_signing_secrets,
                              settings.teams_secrets, settings.teams_workflow_url)
    preflight = Preflight(avs, store, load_policy(settings.policy))
    # Whatever moves a request on tells its channels; intake answers its caller itself.
    announcing = cast(RequestStore, AnnouncingStore(store, queue))
    intake = Intake(store, queue, clock)
    queries = Queries(store, avs, queue, preflight)
    approvals = Approvals(announcing, queue, clock, preflight.policy)
    deliveries = Deliveries(store, notifier or HttpNotifier(channels))
    return Services(
        intake=intake,
        worker=Worker(announcing, queue, avs, preflight, clock, poll_interval=settings.poll_interval,
                      operation_timeout=settings.operation_timeout, approvals=settings.approvals,
                      approval_timeout=settings.approval_timeout, deliveries=deliveries),
        approvals=approvals,
        queries=queries,
        sweeper=Sweeper(announcing, queue, clock, stale_after=settings.stale_after),
        inbound=Inbound(channels, intake, queries, approvals, avs, settings.subscriptions),
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
