"""A queue trigger annotated with the SDK's message type, which the local host refuses (test_lifecycle)."""

from __future__ import annotations

import azure.functions as func
from azure.servicebus import ServiceBusReceivedMessage

app = func.FunctionApp()


@app.service_bus_queue_trigger(arg_name="msg", queue_name="%SAMPLE_QUEUE%", connection="ServiceBusConnection")
def on_sdk_message(msg: ServiceBusReceivedMessage) -> None:
    raise AssertionError("never invoked: the host refuses to start")
