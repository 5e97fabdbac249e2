"""An app that starts a thread when it is imported: the flex host refuses to fork it (test_flex_instances)."""

from __future__ import annotations

import threading

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
_forever = threading.Event()
threading.Thread(target=_forever.wait, name="started-at-import", daemon=True).start()


@app.route(route="ping", methods=["GET"])
def ping(req: func.HttpRequest) -> str:
    return "pong"
