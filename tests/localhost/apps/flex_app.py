"""Functions that report which process runs them; used by tests/localhost/test_flex_instances.py.

Every invocation appends one JSON line (function, pid, parent pid) to the file named by the
SAMPLE_RECORD_PATH setting, and the HTTP functions answer with the same, so tests can tell which
instance of the host ran what.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
_record_lock = threading.Lock()


def whoami(function: str) -> dict[str, object]:
    return {"function": function, "pid": os.getpid(), "ppid": os.getppid()}


def record(function: str, **fields: object) -> None:
    line = json.dumps({**whoami(function), **fields})
    with _record_lock, open(os.environ["SAMPLE_RECORD_PATH"], "a", encoding="utf-8") as out:
        out.write(line + "\n")


def _wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


@app.route(route="whoami/a", methods=["GET"])
def whoami_a(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(whoami("whoami_a")), mimetype="application/json")


@app.route(route="whoami/b", methods=["GET"])
def whoami_b(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(whoami("whoami_b")), mimetype="application/json")


@app.route(route="gate", methods=["GET"])
def gate(req: func.HttpRequest) -> func.HttpResponse:
    """Records that it started, then returns once the file named by `?open=` exists."""
    record("gate")
    _wait_for_file(Path(req.params["open"]))
    return func.HttpResponse("released")


@app.service_bus_queue_trigger(arg_name="msg", queue_name="%SAMPLE_QUEUE%", connection="ServiceBusConnection")
def on_message(msg: func.ServiceBusMessage) -> None:
    """Records its process; a body `gate:<path>` holds the invocation until that file exists."""
    body = msg.get_body().decode()
    record("on_message", body=body, state="started")
    if body.startswith("gate:"):
        _wait_for_file(Path(body.removeprefix("gate:")))
    record("on_message", body=body, state="finished")


@app.timer_trigger(arg_name="timer", schedule="%SAMPLE_SCHEDULE%")
def tick_a(timer: func.TimerRequest) -> None:
    record("tick_a")


@app.timer_trigger(arg_name="timer", schedule="%SAMPLE_SCHEDULE%")
def tick_b(timer: func.TimerRequest) -> None:
    record("tick_b")
