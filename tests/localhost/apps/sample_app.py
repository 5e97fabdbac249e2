"""A function app exercising every trigger the local host serves; used only by tests/localhost.

Each invocation appends one JSON line to the file named by the SAMPLE_RECORD_PATH setting, so tests
can observe invocations from outside the host process.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
_record_lock = threading.Lock()
_barriers: dict[int, threading.Barrier] = {}


def record(function: str, **fields: object) -> None:
    line = json.dumps({"function": function, **fields}, default=str)
    with _record_lock, open(os.environ["SAMPLE_RECORD_PATH"], "a", encoding="utf-8") as out:
        out.write(line + "\n")


def _describe(req: func.HttpRequest) -> dict[str, object]:
    return {
        "method": req.method,
        "url": req.url,
        "route_params": dict(req.route_params),
        "params": dict(req.params),
        "headers": dict(req.headers),
        "body": req.get_body().decode(),
    }


@app.route(route="echo/{id}", methods=["GET", "POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(_describe(req)), mimetype="application/json", headers={"X-Sample": "echo"})


@app.route(route="public/ping", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def ping(req: func.HttpRequest) -> str:
    return "pong"


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret internal detail")


@app.route(route="things/{id:int}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_thing(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"get {req.route_params['id']}")


@app.route(route="things/{id:int}", methods=["DELETE"], auth_level=func.AuthLevel.ANONYMOUS)
def delete_thing(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=202)


@app.route(route="files/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def files(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(req.route_params.get("path", ""))


@app.route(auth_level=func.AuthLevel.ANONYMOUS)
def unrouted(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"function": context.function_name, "invocation_id": context.invocation_id}),
        mimetype="application/json",
    )


@app.route(route="async/{name?}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def async_hello(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return func.HttpResponse(f"hello {req.route_params.get('name', 'nobody')}")


@app.route(route="nothing", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
def nothing(req: func.HttpRequest) -> None:
    record("nothing", body=req.get_body().decode())


@app.route(route="barrier/{parties:int}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def barrier(req: func.HttpRequest) -> func.HttpResponse:
    """Returns only once `parties` requests are inside at the same time (proves concurrency)."""
    parties = int(req.route_params["parties"])
    with _record_lock:
        gate = _barriers.setdefault(parties, threading.Barrier(parties, timeout=20))
    gate.wait()
    return func.HttpResponse("together")


@app.route(route="gate", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def gate(req: func.HttpRequest) -> func.HttpResponse:
    """Records that it started, then returns once the file named by `?open=` exists."""
    record("gate", state="started")
    return func.HttpResponse("released" if _wait_for_file(Path(req.params["open"])) else "timed out")


def _wait_for_file(path: Path) -> bool:
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return path.exists()


@app.service_bus_queue_trigger(arg_name="msg", queue_name="%SAMPLE_QUEUE%", connection="ServiceBusConnection")
def on_message(msg: func.ServiceBusMessage) -> None:
    body = msg.get_body().decode()
    record(
        "on_message",
        body=body,
        message_id=msg.message_id,
        delivery_count=msg.delivery_count,
        application_properties=msg.application_properties,
        content_type=msg.content_type,
        correlation_id=msg.correlation_id,
        sequence_number=msg.sequence_number,
        enqueued_time_utc=msg.enqueued_time_utc,
        lock_token=msg.lock_token,
    )
    if body.startswith("fail"):
        raise RuntimeError(f"told to fail: {body}")
    if body.startswith("gate:"):
        _wait_for_file(Path(body.removeprefix("gate:")))
    if body.startswith("sleep:"):
        time.sleep(float(body.removeprefix("sleep:")))


@app.service_bus_queue_trigger(
    arg_name="msg", queue_name="%SAMPLE_SESSION_QUEUE%", connection="ServiceBusConnection", is_sessions_enabled=True
)
def on_session_message(msg: func.ServiceBusMessage) -> None:
    record(
        "on_session_message",
        body=msg.get_body().decode(),
        message_id=msg.message_id,
        session_id=msg.session_id,
        delivery_count=msg.delivery_count,
    )


@app.timer_trigger(arg_name="timer", schedule="%SAMPLE_SCHEDULE%", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    record("tick", past_due=timer.past_due, at=time.time())
