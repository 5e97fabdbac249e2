"""Timer triggers in the host process: schedules, run on startup, retries and no overlap."""

from __future__ import annotations

import itertools

from tests.localhost.conftest import TIMER_APP, StartHost


def test_an_every_second_schedule_fires_once_per_second(start_host: StartHost) -> None:
    host = start_host(SAMPLE_SCHEDULE="* * * * * *")
    ticks = host.wait_for_records("tick", 3)
    seconds = [int(t["at"]) for t in ticks]
    assert len(set(seconds)) == len(seconds)  # never twice in one second


def test_timers_run_on_startup_retry_and_never_overlap(start_host: StartHost) -> None:
    host = start_host(TIMER_APP)

    assert host.wait_for_records("on_startup", 1) == [{"function": "on_startup", "past_due": False}]

    flaky = host.wait_for_records("flaky", 4)
    assert [(r["retry_count"], r["max_retry_count"], r["previous_error"]) for r in flaky[:3]] == [
        (0, 2, None),
        (1, 2, "attempt 0 fails"),
        (2, 2, "attempt 1 fails"),
    ]
    assert flaky[3]["retry_count"] == 0  # the next occurrence starts afresh
    assert "Executed 'Functions.flaky' (trigger=timer, Failed" in host.log()

    slow = host.wait_for_records("slow", 3)
    for earlier, later in itertools.pairwise(slow):
        assert later["started"] >= earlier["ended"]
    assert host.service.alive()
