"""The cached listing short cloud names resolve against (chat and GET /api/clouds)."""

from __future__ import annotations

import pytest

from interconnect.adapters.memory import InMemoryAvs
from interconnect.avs.known import KnownClouds
from interconnect.errors import ArmError, DependencyError
from tests.factories import SUB_A, cloud, cloud_id

SUB_B = "22222222-2222-2222-2222-222222222222"


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_listing_is_kept_for_its_ttl_then_read_again() -> None:
    avs, ticks = InMemoryAvs(), Ticks()
    avs.add(cloud(cloud_id("pc-a")))
    known = KnownClouds(avs, (SUB_A,), now=ticks, ttl=300)
    assert known.list() == [cloud_id("pc-a")]
    avs.add(cloud(cloud_id("pc-b"), block="10.0.4.0/22"))
    ticks.now = 299
    assert known.list() == [cloud_id("pc-a")]
    ticks.now = 300
    assert set(known.list()) == {cloud_id("pc-a"), cloud_id("pc-b")}
    assert avs.calls.count("list_clouds") == 2


def test_when_no_subscription_can_be_listed_it_is_an_outage_and_nothing_is_cached(
    caplog: pytest.LogCaptureFixture,
) -> None:
    avs = InMemoryAvs()
    avs.add(cloud(cloud_id("pc-a")))
    avs.refuse["list_clouds"] = ArmError("ARM is down")
    known = KnownClouds(avs, (SUB_A, SUB_B))
    with pytest.raises(DependencyError, match="ARM is down"):
        known.list()
    assert "cannot list clouds" in caplog.text and "ARM is down" in caplog.text
    del avs.refuse["list_clouds"]
    assert known.list() == [cloud_id("pc-a")]  # read again at once: the failure was not cached
