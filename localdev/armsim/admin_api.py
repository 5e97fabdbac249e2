"""The simulator's own control surface under /admin/: load fleets, set faults, read the call log, and
change the simulated world behind the app's back (links made in the portal, drifting segments).

Every endpoint speaks JSON; a document that does not validate is answered 400 with the offending field
named. The client side is `localdev.armsim.admin.ArmSimAdmin`; the list is in localdev/ARMSIM.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localdev.armsim.arm import Response
from localdev.armsim.errors import ConfigError
from localdev.armsim.faults import FaultConfig
from localdev.armsim.fleet import Fleet
from localdev.armsim.schema import Doc

if TYPE_CHECKING:
    from localdev.armsim.server import Simulator

AdminHandler = Callable[["Simulator", Any, dict[str, str]], Response]


def _ok(body: Any = None) -> Response:
    return Response(200 if body is not None else 204, body)


def _patch_faults(sim: Simulator, doc: Any, _: dict[str, str]) -> Response:
    if not isinstance(doc, dict):
        raise ConfigError("faults: expected a mapping of the sections to replace")
    merged = {**sim.faults.describe()["config"], **doc}
    sim.faults.configure(FaultConfig.from_dict(merged))
    return _ok(sim.faults.describe())


def _put_faults(sim: Simulator, doc: Any, _: dict[str, str]) -> Response:
    sim.faults.configure(FaultConfig.from_dict(doc))
    return _ok(sim.faults.describe())


def _clear_faults(sim: Simulator, _doc: Any, _query: dict[str, str]) -> Response:
    sim.faults.configure(FaultConfig())
    return _ok()


def _load_fleet(sim: Simulator, doc: Any, _: dict[str, str]) -> Response:
    sim.load(Fleet.from_dict(doc))
    return _ok(sim.world.counts())


def _clear_calls(sim: Simulator, _doc: Any, _query: dict[str, str]) -> Response:
    sim.calls.clear()
    return _ok()


def _remove_link(sim: Simulator, doc: Any, _: dict[str, str]) -> Response:
    sim.world.remove_link(Doc(doc))
    return _ok()


ROUTES: dict[tuple[str, str], AdminHandler] = {
    ("GET", "/admin/health"): lambda sim, _d, _q: _ok({"status": "ok", **sim.world.counts()}),
    ("GET", "/admin/calls"): lambda sim, _d, q: _ok({"value": sim.calls.entries(q.get("kind"))}),
    ("DELETE", "/admin/calls"): _clear_calls,
    ("PUT", "/admin/fleet"): _load_fleet,
    ("GET", "/admin/state"): lambda sim, _d, _q: _ok(sim.world.snapshot()),
    ("GET", "/admin/faults"): lambda sim, _d, _q: _ok(sim.faults.describe()),
    ("PUT", "/admin/faults"): _put_faults,
    ("PATCH", "/admin/faults"): _patch_faults,
    ("DELETE", "/admin/faults"): _clear_faults,
    ("POST", "/admin/links"): lambda sim, d, _q: Response(201, sim.world.add_link(Doc(d))),
    ("PATCH", "/admin/links"): lambda sim, d, _q: _ok(sim.world.update_link(Doc(d))),
    ("DELETE", "/admin/links"): _remove_link,
    ("POST", "/admin/segments"): lambda sim, d, _q: Response(201, sim.world.add_segment(Doc(d))),
    ("PATCH", "/admin/segments"): lambda sim, d, _q: _ok(sim.world.update_segment(Doc(d))),
    ("PATCH", "/admin/clouds"): lambda sim, d, _q: _ok(sim.world.update_cloud(Doc(d))),
}


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


def handle(sim: Simulator, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
    handler = ROUTES.get((method, path.rstrip("/")))
    if handler is None:
        known = sorted(f"{m} {p}" for m, p in ROUTES)
        return _error(404, "UnknownAdminEndpoint", f"{method} {path} is not an admin endpoint; known: {known}")
    try:
        doc = json.loads(body) if body else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        return _error(400, "InvalidJson", f"request body is not JSON: {err}")
    try:
        return handler(sim, doc, query)
    except ConfigError as err:
        return _error(400, "InvalidAdminRequest", str(err))
