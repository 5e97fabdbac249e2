"""Nothing lost, nothing done twice, nothing stuck: ARM faults, host crashes and replays on the local cloud.

These are the CI-sized runs; `python -m bench.chaos` runs the full sizes (200 requests, 20 crashes).
"""

from __future__ import annotations

import random
import threading
import uuid

import pytest

from localdev.armsim import ArmSimAdmin
from localdev.chaos import Api, arm_faults, check, cloud_id, crash_loop, pair_fleet, wait_terminal
from localdev.cloud import LocalCloud

pytestmark = pytest.mark.reliability


def connects(pairs: int, run: str) -> list[tuple[dict[str, str], str]]:
    return [
        ({"action": "connect", "source": cloud_id(f"s{i}"), "target": cloud_id(f"t{i}")}, f"{run}-{i}")
        for i in range(pairs)
    ]


def test_every_request_finishes_correctly_when_a_fifth_of_arm_calls_fail(api: Api, arm: ArmSimAdmin) -> None:
    arm.load_fleet(pair_fleet(30, faults=arm_faults(0.20)))
    ids = [api.submit(body, key) for body, key in connects(30, uuid.uuid4().hex)]
    report = check(wait_terminal(api, ids, timeout=240), arm)
    assert report.statuses == {"Succeeded": 30}, report.summary()
    assert report.ok, (report.duplicate_creates, report.trail_problems[:5])
    assert report.faults_fired > 0
    assert len(arm.state()["links"]) == 30


def test_killing_the_host_at_random_moments_loses_nothing(chaos_cloud: LocalCloud, api: Api, arm: ArmSimAdmin) -> None:
    arm.load_fleet(pair_fleet(30))
    requests = connects(30, uuid.uuid4().hex)
    stop = threading.Event()
    rng = random.Random(20261125)
    kills: list[int] = []
    chaos = threading.Thread(
        target=lambda: kills.append(
            crash_loop(lambda: chaos_cloud.service("host").kill(), chaos_cloud.start_host, 5, rng, stop)
        )
    )
    chaos.start()
    try:
        ids = [api.submit(body, key) for body, key in requests]
        # The crashes go on while the requests are processed, not only while they are accepted.
        chaos.join(timeout=120)
    finally:
        stop.set()
        chaos.join()
    assert kills == [5]
    report = check(wait_terminal(api, ids, timeout=240), arm)
    assert len(set(ids)) == 30  # a retried POST with the same key never made a second request
    assert report.statuses == {"Succeeded": 30}, report.summary()
    assert report.ok, (report.duplicate_creates, report.trail_problems[:5])
    assert len(arm.state()["links"]) == 30


def test_the_same_request_five_times_is_one_request_and_one_arm_operation(api: Api, arm: ArmSimAdmin) -> None:
    arm.load_fleet(pair_fleet(1))
    body = {"action": "connect", "source": cloud_id("s0"), "target": cloud_id("t0")}
    key = uuid.uuid4().hex
    ids = {api.submit(body, key) for _ in range(5)}
    assert len(ids) == 1
    report = check(wait_terminal(api, ids, timeout=60), arm)
    assert report.statuses == {"Succeeded": 1}
    assert report.puts == 1
