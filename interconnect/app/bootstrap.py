"""The composition root: build adapters from settings and hand them to the services. Nothing at import.

Each adapter and each service is built on its first use, on its own, because on Flex Consumption the Python a
cold instance loads before answering is most of the wait, and Slack's 3 s deadline counts it. A first
`POST /api/requests` builds the request store, the work queue and the token rules, and loads nothing else: the
JWT library only when a bearer token arrives, the ARM SDK only when something asks ARM, the policy and channel
documents (msgspec) only where they are read, Graphviz only for an SVG.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from interconnect.app.settings import Settings, TelemetrySettings
from interconnect.errors import InterconnectError, NotFoundError, ValidationError

if TYPE_CHECKING:
    import azure.functions as func
    from azure.core.credentials import TokenCredential

    from interconnect.adapters.signing_keys import OpenIdSigningKeys
    from interconnect.adapters.tables import TableRequestStore
    from interconnect.app.dispatch import Dispatch
    from interconnect.app.identity import SigningKeys, Verifier
    from interconnect.audit.ports import AuditStore, SvgRenderer
    from interconnect.audit.service import Audits
    from interconnect.avs.gateway import AvsGateway
    from interconnect.avs.known import KnownClouds
    from interconnect.channels.config import Channels
    from interconnect.channels.deliveries import AnnouncingStore, Deliveries
    from interconnect.channels.inbound import Inbound
    from interconnect.channels.ports import Notifier
    from interconnect.console.signin import SignIn, SignInMetadata
    from interconnect.estate.apply import ChangeSets
    from interconnect.estate.gather import EstateReader
    from interconnect.estate.ports import ChangeSetStore
    from interconnect.estate.registry import TopologyRegistry
    from interconnect.linking.approvals import Approvals
    from interconnect.linking.facts import Preflight
    from interconnect.linking.intake import Intake
    from interconnect.linking.measures import Measures
    from interconnect.linking.policy import Policy
    from interconnect.linking.ports import RequestStore, WorkQueue
    from interconnect.linking.quarantine import Quarantine
    from interconnect.linking.queries import Queries
    from interconnect.linking.sweeper import Sweeper
    from interconnect.linking.worker import Worker


def utcnow() -> datetime:
    return datetime.now(UTC)


FORMATS = {"json": "application/json", "mermaid": "text/plain", "dot": "text/vnd.graphviz", "svg": "image/svg+xml"}

Owner = TypeVar("Owner")
Part = TypeVar("Part")


class component(Generic[Owner, Part]):  # lower case: a decorator, like functools.cached_property
    """An attribute built by the decorated method on first use, then kept. Two threads asking at once (two
    first requests on a cold instance) get the one build: the second waits for it rather than starting another.
    A build that raises keeps nothing, so the next use tries again (storage may be back). Setting the attribute
    replaces the part (tests put a fake in its seat)."""

    def __init__(self, build: Callable[[Owner], Part]) -> None:
        self._build = build
        self._name = build.__name__
        # Reentrant: building one part builds the parts it needs, each under its own lock; parts depend on
        # each other without cycles, so two builds never wait on each other.
        self._lock = threading.RLock()
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type[Owner], name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type[Owner] | None = None) -> component[Owner, Part]: ...

    @overload
    def __get__(self, obj: Owner, owner: type[Owner] | None = None) -> Part: ...

    def __get__(self, obj: Owner | None, owner: type[Owner] | None = None) -> Part | component[Owner, Part]:
        if obj is None:
            return self
        built: dict[str, Any] = vars(obj)
        if self._name in built:
            return built[self._name]  # type: ignore[no-any-return]
        with self._lock:
            if self._name not in built:
                built[self._name] = self._build(obj)
            return built[self._name]  # type: ignore[no-any-return]

    def __set__(self, obj: Owner, value: Part) -> None:
        vars(obj)[self._name] = value


class Adapters(Protocol):
    """Where the services' ports come from. Services calls each at most once, when a service first needs it."""

    def store(self) -> RequestStore: ...

    def queue(self) -> WorkQueue: ...

    def avs(self) -> AvsGateway: ...

    def audit_store(self) -> AuditStore | None:
        """None: the audit is not configured."""

    def notifier(self) -> Notifier | None:
        """None: channel deliveries go out over HTTP (HttpNotifier)."""

    def signing_keys(self) -> SigningKeys | None:
        """None: Entra sign-in is off."""

    def sign_in_metadata(self) -> SignInMetadata | None:
        """The tenant's sign-in endpoints, for the web console; None: Entra sign-in is off."""

    def quarantine(self) -> Quarantine | None:
        """Where the queue trigger sets aside what is no work item; None: not configured (a message that would
        go there is abandoned instead, for Service Bus to dead-letter in the end)."""

    def topology_registry(self) -> TopologyRegistry:
        """The topology documents applied, which every audit compares with the estate (drift)."""

    def changesets(self) -> ChangeSetStore:
        """Where an apply's change sets are kept (links as code)."""


class Services:
    """The app's services over `adapters`, each built on first use (see `component`)."""

    def __init__(self, settings: Settings, adapters: Adapters, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self._adapters = adapters

    # -- ports ----------------------------------------------------------------------------------------------

    @component
    def store(self) -> RequestStore:
        return self._adapters.store()

    @component
    def queue(self) -> WorkQueue:
        return self._adapters.queue()

    @component
    def avs(self) -> AvsGateway:
        return self._adapters.avs()

    @component
    def audit_store(self) -> AuditStore | None:
        return self._adapters.audit_store()

    @component
    def quarantine(self) -> Quarantine | None:
        return self._adapters.quarantine()

    @component
    def topology_registry(self) -> TopologyRegistry:
        return self._adapters.topology_registry()

    @component
    def changeset_store(self) -> ChangeSetStore:
        return self._adapters.changesets()

    @component
    def notifier(self) -> Notifier:
        from interconnect.adapters.notifier import HttpNotifier

        return self._adapters.notifier() or HttpNotifier(self.channels)

    @component
    def sign_in_metadata(self) -> SignInMetadata | None:
        return self._adapters.sign_in_metadata()

    @component
    def render_svg(self) -> SvgRenderer:
        from interconnect.adapters.graphviz import render_svg

        return render_svg

    # -- documents the settings hold ------------------------------------------------------------------------

    @component
    def channels(self) -> Channels:
        from interconnect.channels.config import parse_channels

        s = self.settings
        return parse_channels(s.hooks, s.hook_secrets, s.slack_signing_secrets, s.teams_secrets, s.teams_workflow_url)

    @component
    def policy(self) -> Policy:
        from interconnect.linking.policy import load_policy

        return load_policy(self.settings.policy)

    # -- services -------------------------------------------------------------------------------------------

    @component
    def identity(self) -> Verifier:
        from interconnect.app.identity import TokenRules, Verifier

        rules = TokenRules.from_settings(self.settings.auth_issuer, self.settings.auth_audience)
        return Verifier(rules, self._adapters.signing_keys())

    @component
    def intake(self) -> Intake:
        from interconnect.linking.intake import Intake

        queue = self.queue  # before the store: the queue opens its connection meanwhile (open_in_background)
        return Intake(self.store, queue, self.clock)

    @component
    def preflight(self) -> Preflight:
        from interconnect.linking.facts import Preflight

        return Preflight(self.avs, self.store, self.policy)

    @component
    def announcing(self) -> AnnouncingStore:
        """The store as whatever moves a request on sees it: it tells the request's channels (intake answers
        its caller itself)."""
        from interconnect.channels.deliveries import AnnouncingStore

        return AnnouncingStore(self.store, self.queue)

    @component
    def queries(self) -> Queries:
        from interconnect.linking.queries import Queries

        return Queries(self.store, self.avs, self.queue, self.preflight)

    @component
    def measures(self) -> Measures:
        from interconnect.adapters.metrics import AppMeasures
        from interconnect.linking.measures import Unmeasured

        if not TelemetrySettings.from_env().exporting:
            return Unmeasured()  # nothing is exported: the sweeper then spends no reads on the approvals gauge
        # Asked for the meter at each fact: the edge switches telemetry on (app/telemetry.ensure) before it
        # calls any service, but nothing here depends on which came first.
        return AppMeasures()

    @component
    def approvals(self) -> Approvals:
        from interconnect.linking.approvals import Approvals

        return Approvals(self.announcing, self.queue, self.clock, self.policy, measures=self.measures)

    @component
    def deliveries(self) -> Deliveries:
        from interconnect.channels.deliveries import Deliveries

        return Deliveries(self.store, self.notifier)

    @component
    def sweeper(self) -> Sweeper:
        from interconnect.linking.sweeper import Sweeper

        return Sweeper(
            self.announcing,
            self.queue,
            self.clock,
            stale_after=self.settings.stale_after,
            quarantine=self.quarantine,
            measures=self.measures,
        )

    @component
    def audits(self) -> Audits | None:
        from interconnect.adapters.notifier import WebhookChatPoster
        from interconnect.audit.inventory import InventoryReader
        from interconnect.audit.model import Thresholds
        from interconnect.audit.service import Audits

        audit_store = self.audit_store
        if audit_store is None:
            return None
        s = self.settings
        return Audits(
            InventoryReader(self.avs, concurrency=s.audit_concurrency),
            self.store,
            audit_store,
            self.queue,
            self.clock,
            s.subscriptions,
            Thresholds(s.stuck_after.total_seconds() / 60, s.stale_after.total_seconds() / 60),
            redrive=self.sweeper.sweep,
            chat=WebhookChatPoster(s.audit_notify_url) if s.audit_notify_url else None,
            quarantine=self.quarantine,
            measures=self.measures,
            topologies=self.topology_registry,
            # Called by a run that needs it, so building the audit builds no change set service.
            pending_changes=lambda: self.changesets.pending_steps(),
        )

    @component
    def worker(self) -> Worker:
        from interconnect.linking.worker import Worker

        s = self.settings
        return Worker(
            self.announcing,
            self.queue,
            self.avs,
            self.preflight,
            self.clock,
            poll_interval=s.poll_interval,
            operation_timeout=s.operation_timeout,
            approvals=s.approvals,
            approval_timeout=s.approval_timeout,
            measures=self.measures,
        )

    @component
    def changesets(self) -> ChangeSets:
        """Links as code: starts an apply's change set and advances it from the work queue."""
        from interconnect.estate.apply import ChangeSets

        return ChangeSets(
            self.changeset_store, self.store, self.intake, self.queue, self.clock, self.settings.poll_interval
        )

    def estate_reader(self) -> EstateReader:
        """A reader of the estate a topology is planned on; one per plan (it counts that plan's ARM reads)."""
        from interconnect.estate.gather import EstateReader

        return EstateReader(self.avs, self.store)

    @component
    def dispatch(self) -> Dispatch:
        """What the queue trigger calls: routes each work item by its kind."""
        from interconnect.app.dispatch import Dispatch

        return Dispatch(
            self.worker,
            self.queue,
            self.clock,
            deliveries=self.deliveries,
            audits=self.audits,
            changesets=self.changesets,
        )

    @component
    def known_clouds(self) -> KnownClouds:
        """The clouds short names resolve against, for chat and GET /api/clouds alike (one cache)."""
        from interconnect.avs.known import KnownClouds

        return KnownClouds(self.avs, self.settings.subscriptions)

    @component
    def inbound(self) -> Inbound:
        from interconnect.channels.inbound import Inbound

        return Inbound(self.channels, self.intake, self.queries, self.approvals, self.known_clouds)

    def sign_in(self) -> SignIn | None:
        """What the web console signs people in with; None when it cannot (Entra sign-in or the console's app
        registration, INTERCONNECT_CONSOLE_CLIENT_ID, is not configured). Reads the tenant's metadata (cached)."""
        from interconnect.console.signin import SignIn, scope_for

        rules = self.identity.rules
        metadata = self.sign_in_metadata
        if rules is None or metadata is None or not self.settings.console_client_id:
            return None
        return SignIn(metadata.endpoints(), self.settings.console_client_id, scope_for(rules.audiences))

    def audits_or_fail(self) -> Audits:
        audits = self.audits
        if audits is None:
            raise InterconnectError("the audit is not configured", code="AUDIT_UNAVAILABLE")
        return audits

    def receive(self, message: func.ServiceBusMessage) -> None:
        """Decode one Service Bus message and dispatch it, or set it aside in the quarantine; raises for a
        redelivery (the host abandons the message)."""
        from interconnect.adapters import trigger

        quarantine = self.quarantine
        if quarantine is None:
            raise InterconnectError("the quarantine is not configured", code="QUARANTINE_UNAVAILABLE")
        trigger.receive(message, quarantine, self.dispatch.handle)

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


class Given:
    """Adapters made beforehand: what `wire` hands the services (tests pass fakes)."""

    def __init__(
        self,
        store: RequestStore,
        queue: WorkQueue,
        avs: AvsGateway,
        notifier: Notifier | None = None,
        audit_store: AuditStore | None = None,
        signing_keys: SigningKeys | None = None,
        quarantine: Quarantine | None = None,
        sign_in_metadata: SignInMetadata | None = None,
        topology_registry: TopologyRegistry | None = None,
        changesets: ChangeSetStore | None = None,
    ) -> None:
        from interconnect.adapters.changesets import InMemoryChangeSetStore

        self._store, self._queue, self._avs = store, queue, avs
        self._notifier, self._audit_store, self._signing_keys = notifier, audit_store, signing_keys
        self._quarantine, self._sign_in_metadata = quarantine, sign_in_metadata
        self._topology_registry = topology_registry
        self._changesets = changesets or InMemoryChangeSetStore()

    def store(self) -> RequestStore:
        return self._store

    def queue(self) -> WorkQueue:
        return self._queue

    def avs(self) -> AvsGateway:
        return self._avs

    def audit_store(self) -> AuditStore | None:
        return self._audit_store

    def notifier(self) -> Notifier | None:
        return self._notifier

    def signing_keys(self) -> SigningKeys | None:
        return self._signing_keys

    def quarantine(self) -> Quarantine | None:
        return self._quarantine

    def sign_in_metadata(self) -> SignInMetadata | None:
        return self._sign_in_metadata

    def topology_registry(self) -> TopologyRegistry:
        if self._topology_registry is None:
            from interconnect.adapters.memory import InMemoryTopologyRegistry

            self._topology_registry = InMemoryTopologyRegistry()
        return self._topology_registry

    def changesets(self) -> ChangeSetStore:
        return self._changesets


def wire(
    settings: Settings,
    store: RequestStore,
    queue: WorkQueue,
    avs: AvsGateway,
    clock: Callable[[], datetime] = utcnow,
    notifier: Notifier | None = None,
    audit_store: AuditStore | None = None,
    signing_keys: SigningKeys | None = None,
    quarantine: Quarantine | None = None,
    sign_in_metadata: SignInMetadata | None = None,
    topology_registry: TopologyRegistry | None = None,
    changesets: ChangeSetStore | None = None,
) -> Services:
    """Services over the given ports (tests pass fakes here; without a topology registry or a change set store,
    in-memory ones)."""
    given = Given(
        store,
        queue,
        avs,
        notifier,
        audit_store,
        signing_keys,
        quarantine,
        sign_in_metadata,
        topology_registry,
        changesets,
    )
    return Services(settings, given, clock)


class SdkAdapters:
    """The real adapters the settings name, each made when a service first needs it, with its SDK imported
    then: locally (connection strings, ARM without a token) no Azure identity library is ever loaded."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @component
    def credential(self) -> TokenCredential:
        from azure.identity import DefaultAzureCredential

        # A user-assigned identity is picked by client id; without one DefaultAzureCredential finds the rest.
        return DefaultAzureCredential(managed_identity_client_id=self.settings.managed_identity_client_id or None)

    @component
    def tables(self) -> TableRequestStore:
        from interconnect.adapters.tables import TableRequestStore

        s = self.settings
        # No table is made here: the store makes its tables when a call first finds them missing, so a cold
        # start spends no round trips on them.
        return TableRequestStore.from_settings(
            connection_string=s.tables_connection_string,
            endpoint=s.tables_endpoint,
            credential=None if s.tables_connection_string else self.credential,
            prefix=s.table_prefix,
        )

    def store(self) -> RequestStore:
        return self.tables

    def queue(self) -> WorkQueue:
        from interconnect.adapters.servicebus import ServiceBusWorkQueue

        s = self.settings
        queue = ServiceBusWorkQueue.from_settings(
            queue_name=s.queue_name,
            connection_string=s.servicebus_connection_string,
            namespace=s.servicebus_namespace,
            credential=None if s.servicebus_connection_string else self.credential,
        )
        queue.open_in_background()
        return queue

    def avs(self) -> AvsGateway:
        from interconnect.adapters.avs import AvsSdkGateway

        s = self.settings
        return AvsSdkGateway(self.credential if s.arm_auth == "managed-identity" else None, base_url=s.arm_endpoint)

    def audit_store(self) -> AuditStore:
        from interconnect.adapters.audit_tables import TableAuditStore

        return TableAuditStore(self.tables.service, self.settings.table_prefix)

    def notifier(self) -> None:
        return None

    @component
    def openid(self) -> OpenIdSigningKeys | None:
        """The tenant's OpenID metadata: its signing keys and sign-in endpoints, one cache for both."""
        from interconnect.adapters.signing_keys import OpenIdSigningKeys

        return OpenIdSigningKeys(self.settings.auth_issuer) if self.settings.auth_issuer else None

    def signing_keys(self) -> SigningKeys | None:
        return self.openid

    def sign_in_metadata(self) -> SignInMetadata | None:
        return self.openid

    def changesets(self) -> ChangeSetStore:
        from interconnect.adapters.changesets import TableChangeSetStore

        # In the requests table, in partitions of their own (adapters/changesets.py says why); made on first use.
        return TableChangeSetStore(self.tables.service, self.settings.table_prefix)

    def quarantine(self) -> Quarantine:
        from interconnect.adapters.quarantine import TableQuarantine

        # Its table is made when the first message is set aside (TableQuarantine.put), not here.
        return TableQuarantine(self.tables.service, self.settings.table_prefix)

    def topology_registry(self) -> TopologyRegistry:
        from interconnect.adapters.topology_tables import TableTopologyRegistry

        # Its table is made when the first document is registered (TableTopologyRegistry.register), not here.
        return TableTopologyRegistry(self.tables.service, self.settings.table_prefix)


def build_services(settings: Settings | None = None) -> Services:
    """Services over the real adapters named by the settings (read here; nothing else is built yet)."""
    settings = settings or Settings.from_env()
    return Services(settings, SdkAdapters(settings))


class _Once:
    """`services()`: the app's services, made on the first call and kept. Under a lock, because two first
    requests may arrive at once and each would otherwise make its own (a store, a queue and their
    connections apiece)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: Services | None = None

    def __call__(self) -> Services:
        made = self._services
        if made is None:
            with self._lock:
                if self._services is None:
                    # Looked up at call time: the function tests put their in-memory app in its seat.
                    self._services = build_services()
                made = self._services
        return made

    def cache_clear(self) -> None:
        with self._lock:
            self._services = None


# Made on first use, not at import: indexing stays fast and a bad setting cannot hide every function.
services = _Once()
