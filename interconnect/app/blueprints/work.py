"""The queue trigger: every work item (a request's step, a delivery, an audit run) goes to app/dispatch.py.

The standard Service Bus trigger (generally available, no extension package): the host completes the message
when the function returns and abandons it when it raises (host.json `autoCompleteMessages`). What can never
be a work item is set aside in the quarantine and the function returns (adapters/trigger.py)."""

from __future__ import annotations

import azure.functions as func

from interconnect.app.bootstrap import services
from interconnect.app.settings import QUEUE_SETTING, SERVICEBUS_CONNECTION

bp = func.Blueprint()


@bp.service_bus_queue_trigger(arg_name="msg", queue_name=f"%{QUEUE_SETTING}%", connection=SERVICEBUS_CONNECTION)
def process_work_item(msg: func.ServiceBusMessage) -> None:
    from interconnect.app import telemetry  # not at import: indexing the app loads no adapter

    telemetry.ensure()
    services().receive(msg)
