"""Timer functions for the local host's timer tests: startup runs, retries and overlap.

Each invocation appends one JSON line to the file named by the SAMPLE_RECORD_PATH setting.
"""

from __future__ import annotations

import json
import os
import threading
import time

import azure.functions as func

app = func.FunctionApp()
_record_lock = threading.Lock()
_failed_occurrences: set[str] = set()


def record(function: str, **fields: object) -> None:
    with _record_lock, open(os.environ["SAMPLE_RECORD_PATH"], "a", encoding="utf-8") as out:
        out.write(json.dumps({"function": function, **fields}) + "\n")


@app.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", run_on_startup=True)
def on_startup(timer: func.TimerRequest) -> None:
    record("on_startup", past_due=timer.past_due)


@app.timer_trigger(arg_name="timer", schedule="* * * * * *")
@app.retry(strategy="fixed_delay", max_retry_count="2", delay_interval="00:00:00")
def flaky(timer: func.TimerRequest, context: func.Context) -> None:
    """Fails the first two attempts of its first occurrence, then succeeds."""
    retry = context.retry_context.retry_count
    record(
        "flaky",
        retry_count=retry,
        max_retry_count=context.retry_context.max_retry_count,
        previous_error=context.retry_context.exception.message if retry else None,
    )
    if retry < 2 and "first" not in _failed_occurrences:
        raise RuntimeError(f"attempt {retry} fails")
    _failed_occurrences.add("first")


@app.timer_trigger(arg_name="timer", schedule="* * * * * *")
def slow(timer: func.TimerRequest) -> None:
    """Runs longer than its one-second period, so overlapping runs would show."""
    started = time.time()
    time.sleep(1.5)
    record("slow", started=started, ended=time.time())
