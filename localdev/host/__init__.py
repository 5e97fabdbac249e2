"""A local Functions host: runs a Python v2 `function_app.py` the way the Azure Functions host would.

Core Tools (`func start`) cannot be installed here, so this package reads the functions an app
registers and serves their triggers (HTTP, Service Bus queue, timer). It holds no app logic: the same
`function_app.py` runs unchanged in Azure. See localdev/HOST.md for what it does and does not do.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # `python -m localdev.host` imports this package first: the host itself needs none of it
    from localdev.procs import Service


def service(
    port: int,
    env: Mapping[str, str],
    app_module: str = "function_app",
    log_path: Path | None = None,
    *,
    settings: Path | None = None,
    host_json: Path | None = None,
    cwd: Path | None = None,
    drain_timeout: float | None = None,
    instances: str = "flex",
    http_instances: int | None = None,
) -> Service:
    """The host as a child process serving `app_module` on `port` (call `.start()` or use `with`).

    `env` is added to this process's environment; `settings` and `host_json` default to the files in
    `cwd` (default: the project root), as with `func start`. `instances` is `flex` (processes per
    instance group) or `single` (every function in one process); with flex, `http_instances` processes
    serve the HTTP functions (None: the host's default, one per CPU). See localdev/HOST.md.
    """
    from localdev.procs import ROOT, Service, python_module

    args = ["--app", app_module, "--port", str(port), "--instances", instances]
    if settings is not None:
        args += ["--settings", str(settings)]
    if host_json is not None:
        args += ["--host-json", str(host_json)]
    if drain_timeout is not None:
        args += ["--drain-timeout", str(drain_timeout)]
    if http_instances is not None:
        args += ["--http-instances", str(http_instances)]
    return Service(
        name=f"functions host ({app_module})",
        argv=python_module("localdev.host", *args),
        port=port,
        env=dict(env),
        cwd=cwd or ROOT,
        log_path=log_path,
    )
