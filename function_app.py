"""The Functions entry point: one Blueprint per feature, registered on the one FunctionApp, and nothing else.

The functions themselves live in interconnect/app/blueprints/: linking (the request API and the sweep), clouds
(short cloud names resolved to ids), channels (ticket hooks and chat), audit (its timer, API and topology),
console (the web console's page, assets and bearer-only data routes), estate (links as code: topology plan
and apply, change sets), health, apidoc (the OpenAPI document)
and work (the queue trigger, which hands each work item to app/dispatch.py).
"""

from __future__ import annotations

import azure.functions as func

from interconnect.app.blueprints import apidoc, audit, channels, clouds, console, estate, health, linking, work

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for feature in (linking, clouds, channels, audit, estate, console, health, apidoc, work):
    app.register_functions(feature.bp)
