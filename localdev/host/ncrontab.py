"""NCRONTAB schedules as the Functions timer trigger reads them, with next-occurrence computation.

The timer trigger uses the .NET NCrontab library, whose dialect differs from Vixie cron in ways that
change when a schedule fires, so this module follows NCrontab rather than a generic cron library:

- six fields `{second} {minute} {hour} {day} {month} {day-of-week}`; a five-field expression
  (no seconds) is also accepted and fires at second 0, as the Functions host does;
- day-of-month and day-of-week must BOTH match (Vixie cron matches either when both are restricted);
- day-of-week is 0-6 with Sunday = 0 (7 is rejected);
- names are case-insensitive prefixes of the English names (`MON`, `Monday`, `jan`);
- `N/step` means N, N+step, ... up to the field's maximum.

All arithmetic is on UTC wall-clock fields; the caller passes timezone-aware UTC datetimes.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")

# A date's weekday repeats with the 400-year Gregorian cycle, so a schedule with no occurrence in
# 400 years has none at all (e.g. "0 0 0 30 2 *").
_SEARCH_YEARS = 400


class CronError(ValueError):
    """The expression is not a valid NCRONTAB expression."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def parse(self, text: str) -> frozenset[int]:
        if not text:
            raise CronError(f"empty {self.name} field")
        values: set[int] = set()
        for part in text.split(","):
            values.update(self._parse_part(part))
        return frozenset(values)

    def _parse_part(self, part: str) -> range:
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"invalid step {step_text!r} in {self.name} field {part!r}")
            step = int(step_text)
        if base == "*":
            return range(self.low, self.high + 1, step)
        first_text, dash, last_text = base.partition("-")
        first = self._value(first_text)
        # "N/step" runs to the field's maximum; a bare "N" is just N.
        last = self._value(last_text) if dash else (self.high if slash else first)
        if first > last:
            raise CronError(f"range {base!r} in {self.name} field runs backwards")
        return range(first, last + 1, step)

    def _value(self, text: str) -> int:
        if text.isdigit():
            value = int(text)
        else:
            lowered = text.lower()
            matches = [i for i, name in enumerate(self.names) if lowered and name.startswith(lowered)]
            if not matches:
                raise CronError(f"{text!r} is not a valid {self.name} value")
            value = matches[0] + self.low
        if not self.low <= value <= self.high:
            raise CronError(f"{self.name} value {value} is outside {self.low}-{self.high}")
        return value


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DAY = _Field("day", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTH_NAMES)
_DAY_OF_WEEK = _Field("day-of-week", 0, 6, _DAY_NAMES)


@dataclass(frozen=True)
class Schedule:
    """A parsed NCRONTAB expression."""

    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        tokens = expression.split()
        if len(tokens) == 5:
            tokens = ["0", *tokens]
        if len(tokens) != 6:
            raise CronError(
                f"{expression!r} must have 6 fields ({{second}} {{minute}} {{hour}} {{day}} {{month}} "
                "{day-of-week}) or 5 fields without the seconds"
            )
        fields = (_SECOND, _MINUTE, _HOUR, _DAY, _MONTH, _DAY_OF_WEEK)
        try:
            parsed = [field.parse(token) for field, token in zip(fields, tokens, strict=True)]
        except CronError as e:
            raise CronError(f"invalid schedule {expression!r}: {e}") from None
        return cls(expression, *parsed)

    def next_after(self, moment: dt.datetime) -> dt.datetime | None:
        """The first matching whole second strictly after `moment`, or None if the schedule never fires."""
        start = moment.replace(microsecond=0) + dt.timedelta(seconds=1)
        return self._first_at_or_after(start)

    def _first_at_or_after(self, start: dt.datetime) -> dt.datetime | None:
        # Walk the fields from the largest unit down. Each level starts at the start's own value only
        # while every larger unit still equals the start's; otherwise from the field's lowest value.
        # The first complete candidate found is the earliest one.
        for year in range(start.year, start.year + _SEARCH_YEARS):
            same_year = year == start.year
            for month in _from(self.months, start.month if same_year else 1):
                same_month = same_year and month == start.month
                last_day = calendar.monthrange(year, month)[1]
                for day in _from(self.days, start.day if same_month else 1):
                    if day > last_day:
                        break
                    if _cron_weekday(dt.date(year, month, day)) not in self.days_of_week:
                        continue
                    same_day = same_month and day == start.day
                    for hour in _from(self.hours, start.hour if same_day else 0):
                        same_hour = same_day and hour == start.hour
                        for minute in _from(self.minutes, start.minute if same_hour else 0):
                            same_minute = same_hour and minute == start.minute
                            for second in _from(self.seconds, start.second if same_minute else 0):
                                return start.replace(
                                    year=year, month=month, day=day, hour=hour, minute=minute, second=second
                                )
        return None


def _from(values: frozenset[int], lowest: int) -> Iterable[int]:
    return sorted(v for v in values if v >= lowest)


def _cron_weekday(day: dt.date) -> int:
    """Sunday = 0, as NCRONTAB counts (Python counts Monday = 0)."""
    return (day.weekday() + 1) % 7
