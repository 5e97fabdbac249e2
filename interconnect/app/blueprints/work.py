"""The queue trigger: every work item (a request's step, a delivery, an audit run) goes to app/dispatch.py."""

from __future__ import annotations

import azure.functions as func
import azurefunctions.extensions.bindings.servicebus as servicebus

from interconnect.app.bootstrap import services
from interconnect.app.settings import QUEUE_SETTING, SERVICEBUS_CONNECTION

bp = func.Blueprint()


@bp.service_bus_queue_trigger(
    arg_name="msg", queue_name=f"%{QUEUE_SETTING}%", connection=SERVICEBUS_CONNECTION, auto_complete_messages=False
)
def process_work_item(
    msg: servicebus.ServiceBusReceivedMessage, message_actions: servicebus.ServiceBusMessageActions
) -> None:
    services().settle(msg, message_actions)
