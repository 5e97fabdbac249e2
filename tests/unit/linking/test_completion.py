"""Follow-up checks end a request at most max(Retry-After, poll interval) after ARM finished, at the production
defaults, for any build up to the operation timeout (the simulation of bench/completion.py: the real worker on
the in-memory adapters and a scripted gateway, on a clock that jumps from message to message)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.completion import PRODUCTION, simulate


@settings(max_examples=60, deadline=None)
@given(
    build=st.integers(min_value=0, max_value=int(PRODUCTION.operation_timeout.total_seconds())),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=600, allow_nan=False)),
)
def test_a_finished_operation_is_reported_within_the_bound(build: int, retry_after: float | None) -> None:
    out = simulate(timedelta(seconds=build), retry_after)
    assert out.status == "Succeeded"  # finished by the deadline: the check at the deadline still sees it
    assert timedelta(0) <= out.lag <= out.bound


def test_a_check_never_comes_sooner_than_retry_after() -> None:
    out = simulate(timedelta(minutes=1), 120)
    assert out.reads == 1 and out.lag == timedelta(minutes=1)  # first GET at 120 s, as ARM asked


def test_a_build_that_ends_exactly_at_the_deadline_succeeds() -> None:
    assert simulate(PRODUCTION.operation_timeout, None).status == "Succeeded"
