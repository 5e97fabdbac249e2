"""The composition root: build adapters from settings and hand them to the services. Nothing at import."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from interconnect.adapters.graphviz import render_svg
from interconnect.adapters.notifier import HttpNotifier, WebhookChatPoster
from interconnect.app.dispatch import Dispatch
from interconnect.app.identity import SigningKeys, TokenRules, Verifier
from interconnect.app.settings import Settings
from interconnect.audit.inventory import InventoryReader
from interconnect.audit.model import Thresholds
from interconnect.audit.ports import AuditStore, SvgRenderer
from interconnect.audit.service import Audits
from interconnect.avs.gateway import AvsGateway
from interconnect.channels.config import parse_channels
from interconnect.channels.deliveries import AnnouncingStore, Deliveries
from interconnect.channels.inbound import Inbound
from interconnect.channels.ports import Notifier
from interconnect.errors import InterconnectError, NotFoundError, ValidationError
from interconnect.linking.approvals import Approvals
from interconnect.linking.facts import Preflight
from interconnect.linking.intake import Intake
from interconnect.linking.policy import load_policy
from interconnect.linking.ports import RequestStore, WorkQueue
from interconnect.linking.queries import Queries
from interconnect.linking.sweeper import Sweeper
from interconnect.linking.worker import Worker

if TYPE_CHECKING:
    from azure.identity import DefaultAzureCredential
    from azure.servicebus import ServiceBusReceivedMessage

    from interconnect.adapters.trigger import MessageActions


def utcnow() -> datetime:
    return datetime.now(UTC)


FORMATS = {"json": "application/json", "mermaid": "text/plain", "dot": "text/vnd.graphviz", "svg": "image/svg+xml"}


@dataclass
class Services:
    intake: Intake
    worker: Worker
    dispatch: Dispatch  # what the queue trigger calls: routes each work item by its kind
    queries: Queries
    sweeper: Sweeper
    approvals: Approvals
    inbound: Inbound
    audits: Audits | None
    identity: Verifier
    render_svg: SvgRenderer = render_svg

    def audits_or_fail(self) -> Audits:
        if self.audits is None:
            raise InterconnectError("the audit is not configured", code="AUDIT_UNAVAILABLE")
        return self.audits

    def settle(self, message: ServiceBusReceivedMessage, actions: MessageActions) -> None:
        """Decode one Service Bus message, dispatch it, and complete, abandon or dead-letter it."""
        from interconnect.adapters import trigger

        trigger.settle(message, actions, self.dispatch.handle)

    def topology(self, fmt: str) -> tuple[bytes, str]:
        """The latest audit's topology as JSON, Mermaid, DOT or SVG."""
        from interconnect.audit import topology

        if fmt not in FORMATS:
            raise ValidationError(f"format must be one of {', '.join(FORMATS)}", code="INVALID_FORMAT")
        store = self.audits_or_fail().store
        run = store.latest()
        if run is None:
            raise NotFoundError("no audit has run yet", code="AUDIT_NOT_FOUND")
        graph = topology.build_graph(store.inventory(run.id), run.findings)
        rendered = {
            "json": lambda: json.dumps(graph).encode(),
            "mermaid": lambda: topology.to_mermaid(graph).encode(),
            "dot": lambda: topology.to_dot(graph).encode(),
            "svg": lambda: self.render_svg(topology.to_dot(graph)),
        }[fmt]()
        return rendered, FORMATS[fmt]


def wire(
    settings: Settings,
    store: RequestStore,
    queue: WorkQueue,
    avs: AvsGateway,
    clock: Callable[[], datetime] = utcnow,
    notifier: Notifier | None = None,
    audit_store: AuditStore | None = None,
    signing_keys: SigningKeys | None = None,
) -> Services:
    """Services over the given ports (tests pass fakes here)."""
    channels = parse_channels(
        settings.hooks,
        settings.hook_secrets,
        settings.slack_signing_secrets,
        settings.teams_secrets,
        settings.teams_workflow_url,
    )
    preflight = Preflight(avs, store, load_policy(settings.policy))
    # Whatever moves a request on tells its channels; intake answers its caller itself.
    announcing = AnnouncingStore(store, queue)
    intake = Intake(store, queue, clock)
    queries = Queries(store, avs, queue, preflight)
    approvals = Approvals(announcing, queue, clock, preflight.policy)
    deliveries = Deliveries(store, notifier or HttpNotifier(channels))
    sweeper = Sweeper(announcing, queue, clock, stale_after=settings.stale_after)
    audits = (
        None
        if audit_store is None
        else Audits(
            InventoryReader(avs, concurrency=settings.audit_concurrency),
            store,
            audit_store,
            queue,
            clock,
            settings.subscriptions,
            Thresholds(settings.stuck_after.total_seconds() / 60, settings.stale_after.total_seconds() / 60),
            redrive=sweeper.sweep,
            chat=WebhookChatPoster(settings.audit_notify_url) if settings.audit_notify_url else None,
        )
    )
    worker = Worker(
        announcing,
        queue,
        avs,
        preflight,
        clock,
        poll_interval=settings.poll_interval,
        operation_timeout=settings.operation_timeout,
        approvals=settings.approvals,
        approval_timeout=settings.approval_timeout,
    )
    return Services(
        intake=intake,
        worker=worker,
        dispatch=Dispatch(worker, queue, clock, deliveries=deliveries, audits=audits),
        approvals=approvals,
        queries=queries,
        sweeper=sweeper,
        inbound=Inbound(channels, intake, queries, approvals, avs, settings.subscriptions),
        audits=audits,
        identity=Verifier(TokenRules.from_settings(settings.auth_issuer, settings.auth_audience), signing_keys),
    )


@functools.cache
def services() -> Services:
    """The app's services, built on first use, not at import: indexing stays fast and a bad setting cannot hide
    every function."""
    return build_services()


def build_services(settings: Settings | None = None) -> Services:
    """Services over the real adapters named by the settings."""
    from interconnect.adapters.audit_tables import TableAuditStore
    from interconnect.adapters.avs import AvsSdkGateway
    from interconnect.adapters.servicebus import ServiceBusWorkQueue
    from interconnect.adapters.signing_keys import OpenIdSigningKeys
    from interconnect.adapters.tables import TableRequestStore

    settings = settings or Settings.from_env()
    arm_identity = settings.arm_auth == "managed-identity"
    needs_identity = not settings.tables_connection_string or not settings.servicebus_connection_string or arm_identity
    credential = _credential(settings) if needs_identity else None
    store = TableRequestStore.from_settings(
        connection_string=settings.tables_connection_string,
        endpoint=settings.tables_endpoint,
        credential=credential,
        prefix=settings.table_prefix,
    )
    store.ensure_tables()
    audit_store = TableAuditStore(store.service, settings.table_prefix)
    audit_store.ensure_tables()
    queue = ServiceBusWorkQueue.from_settings(
        queue_name=settings.queue_name,
        connection_string=settings.servicebus_connection_string,
        namespace=settings.servicebus_namespace,
        credential=credential,
    )
    avs = AvsSdkGateway(credential if arm_identity else None, base_url=settings.arm_endpoint)
    keys = OpenIdSigningKeys(settings.auth_issuer) if settings.auth_issuer else None
    return wire(settings, store, queue, avs, audit_store=audit_store, signing_keys=keys)


def _credential(settings: Settings) -> DefaultAzureCredential:
    from azure.identity import DefaultAzureCredential

    # A user-assigned identity is picked by client id; without one DefaultAzureCredential finds the rest.
    return DefaultAzureCredential(managed_identity_client_id=settings.managed_identity_client_id or None)
