"""Builders for test data: clouds, ids and requests with unique names so tests never collide."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from interconnect.avs.ids import CloudId, parse_cloud_id
from interconnect.avs.resources import Cloud

SUB_A = "11111111-1111-1111-1111-111111111111"
SUB_B = "22222222-2222-2222-2222-222222222222"


def cloud_id(name: str | None = None, *, sub: str = SUB_A, rg: str = "rg-avs") -> CloudId:
    return parse_cloud_id(
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.AVS/privateClouds/"
        f"{name or 'pc-' + uuid.uuid4().hex[:8]}"
    )


def cloud(cid: CloudId, *, location: str = "westeurope", state: str = "Succeeded", block: str = "10.0.0.0/22") -> Cloud:
    return Cloud(id=cid, location=location, provisioning_state=state, network_block=block)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
