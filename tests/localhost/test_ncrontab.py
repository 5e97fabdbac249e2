"""NCRONTAB parsing and next-occurrence computation, checked against tables and a brute-force scan."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localdev.host.ncrontab import CronError, Schedule

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "now", "expected"),
    [
        ("0 */5 * * * *", "2024-01-01T00:00:00", "2024-01-01T00:05:00"),
        ("*/15 * * * * *", "2024-01-01T00:00:07", "2024-01-01T00:00:15"),
        ("* * * * * *", "2024-01-01T00:00:07.900", "2024-01-01T00:00:08"),
        ("0 0 3 * * *", "2024-01-01T03:00:00", "2024-01-02T03:00:00"),  # strictly after now
        ("0 0 3 * * *", "2024-12-31T04:00:00", "2025-01-01T03:00:00"),
        ("0 30 9 * * MON-FRI", "2024-06-08T12:00:00", "2024-06-10T09:30:00"),  # Saturday -> Monday
        ("0 30 9 * * Sat,sunday", "2024-06-10T12:00:00", "2024-06-15T09:30:00"),
        ("0 0 0 1 JAN *", "2024-03-01T00:00:00", "2025-01-01T00:00:00"),
        ("0 0 0 29 2 *", "2025-03-01T00:00:00", "2028-02-29T00:00:00"),
        ("0 0 0 31 * *", "2024-01-31T00:00:00", "2024-03-31T00:00:00"),  # skips February
        ("0 0 12 13 * FRI", "2024-01-01T00:00:00", "2024-09-13T12:00:00"),  # day AND weekday, unlike cron
        ("5/20 * * * * *", "2024-01-01T00:00:26", "2024-01-01T00:00:45"),
        ("10-12 0 0 * * *", "2024-01-01T00:00:11", "2024-01-01T00:00:12"),
        ("0 0 */6 * * *", "2024-01-01T13:00:00", "2024-01-01T18:00:00"),
        ("0 15 10 * * 0", "2024-06-10T00:00:00", "2024-06-16T10:15:00"),  # 0 is Sunday
        ("*/5 * * * *", "2024-01-01T00:00:30", "2024-01-01T00:05:00"),  # 5 fields: seconds are 0
        ("0 0 * * 1", "2024-06-11T00:00:00", "2024-06-17T00:00:00"),
    ],
)
def test_next_occurrence(expression: str, now: str, expected: str) -> None:
    assert Schedule.parse(expression).next_after(at(now)) == at(expected)


def test_a_schedule_that_never_fires_has_no_next_occurrence() -> None:
    assert Schedule.parse("0 0 0 30 2 *").next_after(at("2024-01-01T00:00:00")) is None


def test_results_keep_the_timezone_of_the_input() -> None:
    assert Schedule.parse("0 0 * * * *").next_after(at("2024-01-01T00:10:00")).tzinfo is UTC


@pytest.mark.parametrize(("text", "month"), [("jan", 1), ("FEBRUARY", 2), ("Ma", 3), ("ju", 6), ("D", 12)])
def test_names_are_case_insensitive_prefixes_taking_the_first_match(text: str, month: int) -> None:
    # NCrontab's rule: the first name (in calendar order) that starts with the text wins.
    assert Schedule.parse(f"0 0 0 1 {text} *").months == {month}


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "* * * *",
        "* * * * * * *",
        "60 * * * * *",
        "* 60 * * * *",
        "* * 24 * * *",
        "* * * 0 * *",
        "* * * 32 * *",
        "* * * * 13 *",
        "* * * * * 7",
        "*/0 * * * * *",
        "5-1 * * * * *",
        "* * * * * FOO",
        "a * * * * *",
        "1,,2 * * * * *",
        "-1 * * * * *",
        "*/x * * * * *",
        "00:05:00",
    ],
)
def test_invalid_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(CronError):
        Schedule.parse(expression)


# --- property: agrees with a brute-force scan -------------------------------------------------------
# The test renders each field from parts whose meaning it computes itself, so the oracle does not
# depend on the parser under test.

FIELDS = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)]
SCAN_SECONDS = 3 * 3600


@st.composite
def field(draw: st.DrawFn, low: int, high: int) -> tuple[str, set[int]]:
    def part() -> st.SearchStrategy[tuple[str, set[int]]]:
        value = st.integers(low, high)
        step = st.integers(1, max(1, high - low))
        return st.one_of(
            st.just(("*", set(range(low, high + 1)))),
            step.map(lambda s: (f"*/{s}", set(range(low, high + 1, s)))),
            value.map(lambda v: (str(v), {v})),
            st.tuples(value, value, step).map(
                lambda t: (f"{min(t[:2])}-{max(t[:2])}/{t[2]}", set(range(min(t[:2]), max(t[:2]) + 1, t[2])))
            ),
            st.tuples(value, step).map(lambda t: (f"{t[0]}/{t[1]}", set(range(t[0], high + 1, t[1])))),
        )

    # Mostly wildcards, so that occurrences are often close enough for the scan to find them.
    parts = draw(st.one_of(st.just([("*", set(range(low, high + 1)))]), st.lists(part(), min_size=1, max_size=3)))
    return ",".join(p[0] for p in parts), set().union(*(p[1] for p in parts))


def matches(sets: list[set[int]], moment: dt.datetime) -> bool:
    weekday = (moment.weekday() + 1) % 7
    values = [moment.second, moment.minute, moment.hour, moment.day, moment.month, weekday]
    return all(v in s for v, s in zip(values, sets, strict=True))


@settings(max_examples=150, deadline=None)
@given(
    fields=st.tuples(*(field(low, high) for low, high in FIELDS)),
    now=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31), timezones=st.just(UTC)),
)
def test_next_occurrence_is_the_first_match_after_now(
    fields: tuple[tuple[str, set[int]], ...], now: dt.datetime
) -> None:
    expression = " ".join(text for text, _ in fields)
    sets = [values for _, values in fields]
    found = Schedule.parse(expression).next_after(now)

    if found is not None:
        assert found > now
        assert matches(sets, found)
    moment = now.replace(microsecond=0) + dt.timedelta(seconds=1)
    scan_end = moment + dt.timedelta(seconds=SCAN_SECONDS)
    while moment < scan_end and (found is None or moment < found):
        assert not matches(sets, moment), f"{expression!r} skipped {moment} after {now}"
        moment += dt.timedelta(seconds=1)
