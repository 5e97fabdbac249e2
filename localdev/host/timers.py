"""Fire timer-triggered functions on their NCRONTAB schedule (UTC), one thread per timer.

One thread per timer gives the guarantee the Functions host gets from its singleton lock: a timer
never overlaps itself. As on the host without schedule monitoring, occurrences missed while an
invocation ran long are skipped, not caught up; the next one is computed from the wall clock after
each invocation. A failing invocation is logged and, if the function has `@app.retry`, retried.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable

from azure.functions.timer import TimerRequest

from localdev.host.bindings import FunctionSpec, TimerTrigger
from localdev.host.invocation import Draining, Invoker, RetryContext

log = logging.getLogger("localdev.host.timers")

# A timer that starts later than this after its scheduled second is reported as past due.
_PAST_DUE_AFTER = dt.timedelta(seconds=1)
# Waits are chunked so that a wall-clock step (NTP, suspend) is noticed within this many seconds.
_MAX_WAIT = 30.0


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TimerRunner:
    def __init__(
        self,
        functions: Iterable[FunctionSpec],
        invoker: Invoker,
        stop: threading.Event,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.functions = [f for f in functions if isinstance(f.trigger, TimerTrigger)]
        self._invoker = invoker
        self._stop = stop
        self._clock = clock
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for spec in self.functions:
            thread = threading.Thread(target=self._run, args=(spec,), name=f"timer-{spec.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout)

    def _run(self, spec: FunctionSpec) -> None:
        trigger = spec.trigger
        assert isinstance(trigger, TimerTrigger)
        last: dt.datetime | None = None
        if trigger.run_on_startup:
            last = self._fire(spec, self._clock(), last)
        while not self._stop.is_set():
            due = trigger.schedule.next_after(self._clock())
            if due is None:
                log.warning("timer %s: schedule %r never fires", spec.name, trigger.schedule.expression)
                return
            if not self._sleep_until(due):
                return
            last = self._fire(spec, due, last)

    def _sleep_until(self, due: dt.datetime) -> bool:
        """Wait until the wall clock reaches `due`; False if the host is stopping."""
        while (remaining := (due - self._clock()).total_seconds()) > 0:
            if self._stop.wait(min(remaining, _MAX_WAIT)):
                return False
        return not self._stop.is_set()

    def _fire(self, spec: FunctionSpec, scheduled: dt.datetime, last: dt.datetime | None) -> dt.datetime:
        trigger = spec.trigger
        assert isinstance(trigger, TimerTrigger)
        started = self._clock()
        upcoming = trigger.schedule.next_after(started)
        request = TimerRequest(
            past_due=started - scheduled > _PAST_DUE_AFTER,
            schedule_status={
                "Last": last.isoformat() if last else None,
                "Next": upcoming.isoformat() if upcoming else None,
                "LastUpdated": started.isoformat(),
            },
            schedule={"AdjustForDST": True},
        )
        policy = spec.retry
        retry, failure = 0, None
        while True:
            context = RetryContext(retry, policy.max_retry_count if policy else 0, failure)
            try:
                self._invoker.run(spec, request, lambda result: result, retry=context)
                return started
            except Draining:
                return started
            except Exception as error:  # logged by the invoker; the timer keeps its schedule
                failure = error
            retry += 1
            if policy is None or 0 <= policy.max_retry_count < retry or self._stop.wait(policy.delay_before(retry)):
                return started
            log.info(
                "timer %s: retry %d of %s",
                spec.name,
                retry,
                "unlimited" if policy.max_retry_count < 0 else policy.max_retry_count,
            )
