"""Drawing a topology as SVG: runs a Graphviz layout engine as a subprocess, the one side effect of the pictures.

The engine is `graphviz-pure` (a static, self-contained port of Graphviz shipped as a manylinux wheel through
requirements.txt), because the Azure Functions host cannot apt-get a system Graphviz; a system `dot` is used
only where graphviz-pure is missing. The DOT itself comes from the pure interconnect/audit/topology.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path

from interconnect.errors import RenderError

ENGINES = ("graphviz-pure", "dot")  # preferred first: graphviz-pure ships in a wheel, `dot` needs apt
RENDER_TIMEOUT = 20.0  # seconds; a few hundred clouds lay out in well under one


def _candidates(name: str) -> Iterable[Path]:
    found = shutil.which(name)
    if found:
        yield Path(found)
    # Not on PATH when the venv is not activated (`.venv/bin/python -m ...`), nor on Azure Functions, where
    # `pip install --target .python_packages/lib/site-packages` puts scripts in that folder's `bin/`.
    yield Path(sys.executable).parent / name
    yield Path(sysconfig.get_path("scripts")) / name
    for entry in sys.path:
        if entry:
            yield Path(entry) / "bin" / name


def find_engine() -> str:
    """The path of a Graphviz layout engine, graphviz-pure first.

    Raises
    ------
    RenderError
        code RENDERER_UNAVAILABLE when neither graphviz-pure nor a system `dot` is installed.
    """
    for name in ENGINES:
        for path in _candidates(name):
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    raise RenderError(
        "no Graphviz layout engine is installed: install graphviz-pure (requirements.txt) "
        "or the system package graphviz",
        code="RENDERER_UNAVAILABLE",
        details={"engines": list(ENGINES)},
    )


def render_svg(dot: str, *, engine: str | None = None, timeout: float = RENDER_TIMEOUT) -> bytes:
    """`dot` (from audit.topology.to_dot) laid out and drawn by Graphviz, as SVG bytes.

    The engine runs without a shell, with fixed arguments, a bare environment and the DOT on stdin: no
    cloud or finding text ever reaches a command line or a file.

    Raises
    ------
    RenderError
        RENDERER_UNAVAILABLE (no engine), RENDER_TIMEOUT (took longer than `timeout` seconds) or
        RENDER_FAILED (the engine exited non-zero or wrote no SVG).
    """
    program = engine or find_engine()
    try:
        done = subprocess.run(
            [program, "-Tsvg"],
            input=dot.encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
            shell=False,
            env={"PATH": os.defpath, "LC_ALL": "C.UTF-8"},
        )
    except FileNotFoundError as exc:
        raise RenderError(f"the layout engine {program} is missing", code="RENDERER_UNAVAILABLE") from exc
    except subprocess.TimeoutExpired as exc:
        raise RenderError(
            f"the layout engine took longer than {timeout:g}s",
            code="RENDER_TIMEOUT",
            details={"timeoutSeconds": timeout},
        ) from exc
    except OSError as exc:
        raise RenderError(
            f"the layout engine {program} could not be started: {exc}", code="RENDERER_UNAVAILABLE"
        ) from exc
    svg = done.stdout.lstrip()
    if done.returncode != 0 or not svg.startswith((b"<?xml", b"<svg")):
        message = done.stderr.decode(errors="replace").strip()[:500]
        raise RenderError(
            f"the layout engine failed (exit {done.returncode}): {message}",
            code="RENDER_FAILED",
            details={"exitCode": done.returncode},
        )
    return svg
