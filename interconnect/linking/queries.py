"""Read-side use cases: a request with its audit trail, recent requests, a cloud's live links, health."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from interconnect.avs.gateway import AvsGateway
from interconnect.avs.ids import CloudId
from interconnect.avs.resources import LinkStatus
from interconnect.errors import InterconnectError, NotFoundError, ValidationError
from interconnect.linking.facts import Preflight, ReadRecorder, facts_view
from interconnect.linking.impact import impact
from interconnect.linking.model import Action, LinkRequest
from interconnect.linking.ports import RequestFilter, RequestStore, WorkQueue
from interconnect.linking.rules import decide
from interconnect.linking.validation import Submit

MAX_PAGE = 100


@dataclass
class Queries:
    store: RequestStore
    avs: AvsGateway
    queue: WorkQueue
    preflight: Preflight

    def plan(self, command: Submit) -> dict[str, Any]:
        """The dry run: every rule on live facts, nothing recorded or queued."""
        facts = self.preflight.gather(command.action, command.source, command.target, command.requester)
        decision = decide(facts)
        answer = {
            "allowed": decision.kind != "reject",
            "wouldDo": decision.kind,
            "outcome": decision.outcome,
            "reasons": [r.to_dict() for r in decision.reasons],
            "facts": facts_view(facts),
        }
        if command.action is Action.DISCONNECT:
            # Read after deciding, and only shown: the verdict stays the one the worker reaches on `facts`.
            answer["impact"] = impact(self.preflight.with_routes(facts))
        return answer

    def impact(self, request: LinkRequest | str) -> dict[str, Any] | None:
        """What a stored disconnect (the request or its id) would cut, read live from ARM; None for a connect.

        Raises NotFoundError (REQUEST_NOT_FOUND) for an id that is not stored, and DependencyError when ARM
        cannot be reached; reads ARM refuses are stated in the view (`unreadable`), not raised.
        """
        stored = self.store.get(request) if isinstance(request, str) else request
        if stored.action is not Action.DISCONNECT:
            return None
        return impact(self.preflight.routes(stored.source, stored.target, stored.requester))

    def request(self, request_id: str) -> dict[str, Any]:
        return self.read(request_id)[1]

    def read(self, request_id: str) -> tuple[LinkRequest, dict[str, Any]]:
        """The stored request and its view with its audit trail (`events`), from one read of the row."""
        request = self.store.get(request_id)
        view = request.to_view()
        view["events"] = [event.to_view() for event in self.store.events(request_id)]
        return request, view

    def recent(self, filters: RequestFilter, *, limit: int, continuation: str | None) -> dict[str, Any]:
        """A page of the requests `filters` match, newest first. `skipped` counts the rows of this page that
        could not be read back (each logged with its reason); the rest are listed all the same. A page may hold
        fewer than `limit` while `continuation` is set (see `RequestStore.recent`)."""
        if not 1 <= limit <= MAX_PAGE:  # refused, not clamped: a page of another size than asked misleads paging
            raise ValidationError(f"limit must be a whole number from 1 to {MAX_PAGE}", code="INVALID_LIMIT")
        page = self.store.recent(filters, limit=limit, continuation=continuation)
        return {"value": [r.to_view() for r in page.items], "continuation": page.continuation, "skipped": page.skipped}

    def links(self, cloud_id: CloudId) -> dict[str, Any]:
        """Outgoing `cloudLinks` and incoming links (`externalCloudLinks`), read live from AVS.

        A cloud that cannot be read (missing, refused or malformed) is a NotFoundError naming why. Once it is
        read, a link listing ARM refuses or answers malformed is stated, not raised: `complete` is false and
        `refusedReads` names each such read, while everything that could be read is listed (an incoming link
        whose holder cannot be listed still appears, with status Unknown). Transient failures still raise.
        """
        reads = ReadRecorder()
        cloud = reads(cloud_id, "privateClouds.get", lambda: self.avs.get_cloud(cloud_id))
        if cloud is None:
            if not reads.refusals:
                raise NotFoundError(
                    f"private cloud {cloud_id} does not exist or cannot be read",
                    code="CLOUD_NOT_FOUND",
                    details={"cloud": str(cloud_id)},
                )
            refusal = reads.refusals[0]
            raise NotFoundError(
                f"private cloud {cloud_id} cannot be read: {refusal.answer}",
                code=f"ARM_{refusal.arm_code}" if refusal.malformed else "CLOUD_NOT_FOUND",
                details=refusal.details(),
            )
        outgoing = reads.listing(cloud.id, "cloudLinks.list", partial(self.avs.list_links, cloud.id))
        value = [
            {
                "name": link.name,
                "direction": "outgoing",
                "otherCloud": str(link.target),
                "status": LinkStatus.normalize(link.status),
            }
            for link in outgoing
        ]
        for source in cloud.external_links:
            # The incoming link's status lives on the cloud that holds it.
            listed = reads.listing(source, "cloudLinks.list", partial(self.avs.list_links, source))
            held = [link for link in listed if link.target == cloud.id]
            value += [
                {
                    "name": link.name,
                    "direction": "incoming",
                    "otherCloud": str(source),
                    "status": LinkStatus.normalize(link.status),
                }
                for link in held
            ] or [{"name": "", "direction": "incoming", "otherCloud": str(source), "status": "Unknown"}]
        return {
            "cloud": str(cloud.id),
            "location": cloud.location,
            "value": value,
            "complete": not reads.refusals,
            "refusedReads": [r.details() for r in reads.refusals],
        }

    def health(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Callable[[], None]] = {
            "tables": self.store.ping,
            "serviceBus": self.queue.ping,
            "arm": self.avs.ping,
        }
        report: dict[str, Any] = {}
        for name, ping in checks.items():
            try:
                ping()
                report[name] = {"ok": True}
            except InterconnectError as exc:
                report[name] = {"ok": False, "code": exc.code, "message": exc.message}
        return all(r["ok"] for r in report.values()), report
