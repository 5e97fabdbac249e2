"""What a schema library costs a cold start: msgspec against pydantic v2, against a floor of `import json`.

The three config parsers (policy, ticket mapping, channels) run when a Functions worker starts, so the
library they stand on is paid for by every cold start. Each run is a fresh interpreter that imports the
library, declares a two-model document (a rule list inside a policy) and validates one; the floor does the
same with nothing but `json`. The candidates are run in a shuffled order within each round (paired), so a
busy machine slows them all alike and the ratio to the same round's floor stays readable.

Two figures per candidate: the whole process (interpreter start to exit), and the part inside it from the
first import to the validated document (what the library adds, without the interpreter's own start).

    python -m bench.schema_import --runs 15
    python -m bench.schema_import --runs 15 --python /path/to/a/venv/with/both/bin/python
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time

DOC = {
    "rules": [
        {"requesters": ["api:*"], "actions": ["connect"], "scopes": ["*"]},
        {"requesters": ["slack:T1/*"], "actions": ["disconnect"], "scopes": ["/subscriptions/x"]},
    ],
    "approvers": ["role:Links.Approve"],
}

# Each script prints the seconds from its first import to the validated document.
PREAMBLE = "import time; t0 = time.perf_counter()\n"
SCRIPTS = {
    "floor (import json)": """
import json
doc = json.loads(DOC)
assert isinstance(doc["rules"], list) and all(isinstance(r, dict) for r in doc["rules"])
""",
    "msgspec": """
import json
from typing import Annotated, Literal
import msgspec
class Rule(msgspec.Struct, forbid_unknown_fields=True):
    requesters: Annotated[list[str], msgspec.Meta(min_length=1)]
    actions: list[Literal["connect", "disconnect"]]
    scopes: list[Annotated[str, msgspec.Meta(pattern="^(\\\\*|/subscriptions/)")]]
class Policy(msgspec.Struct, forbid_unknown_fields=True):
    rules: list[Rule]
    approvers: list[str] = []
doc = msgspec.convert(json.loads(DOC), Policy)
assert len(doc.rules) == 2
""",
    "pydantic": """
import json
from typing import Annotated, Literal
import pydantic
class Rule(pydantic.BaseModel, extra="forbid"):
    requesters: Annotated[list[str], pydantic.Field(min_length=1)]
    actions: list[Literal["connect", "disconnect"]]
    scopes: list[Annotated[str, pydantic.StringConstraints(pattern="^(\\\\*|/subscriptions/)")]]
class Policy(pydantic.BaseModel, extra="forbid"):
    rules: list[Rule]
    approvers: list[str] = []
doc = Policy.model_validate(json.loads(DOC))
assert len(doc.rules) == 2
""",
}
SUFFIX = "print(time.perf_counter() - t0)\n"


def run_once(python: str, name: str) -> tuple[float, float]:
    """(whole process, first import to validated document), in seconds."""
    script = PREAMBLE + f"DOC = {json.dumps(json.dumps(DOC))}\n" + SCRIPTS[name] + SUFFIX
    started = time.perf_counter()
    done = subprocess.run([python, "-I", "-c", script], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, float(done.stdout.strip())


def available(python: str, name: str) -> bool:
    module = name.split()[0] if name in ("msgspec", "pydantic") else "json"
    return subprocess.run([python, "-I", "-c", f"import {module}"], capture_output=True).returncode == 0


def version(python: str, name: str) -> str:
    if name not in ("msgspec", "pydantic"):
        return ""
    done = subprocess.run(
        [python, "-I", "-c", f"import {name}; print({name}.__version__)"], capture_output=True, text=True
    )
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--python", default=sys.executable, help="an interpreter that has both libraries")
    args = parser.parse_args()
    names = [name for name in SCRIPTS if available(args.python, name)]
    missing = sorted(set(SCRIPTS) - set(names))
    if missing:
        print(f"not installed for {args.python}: {', '.join(missing)} (pass --python)", file=sys.stderr)
    for name in names:
        run_once(args.python, name)  # warm the file cache: every measured run then starts alike
    whole: dict[str, list[float]] = {name: [] for name in names}
    inside: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.runs):
        for name in random.sample(names, len(names)):
            total, part = run_once(args.python, name)
            whole[name].append(total)
            inside[name].append(part)
    floor_whole = statistics.median(whole[names[0]])
    floor_inside = statistics.median(inside[names[0]])
    print(f"{args.runs} runs each, one process per run, shuffled within each round; times in ms")
    print(
        f"{'':24} {'process min/median/max':>26} {'x floor':>8}   {'import+validate min/median/max':>32} "
        f"{'minus floor':>11}"
    )
    for name in names:
        label = f"{name} {version(args.python, name)}".strip()
        w, i = whole[name], inside[name]
        print(
            f"{label:24} {min(w) * 1e3:8.1f} {statistics.median(w) * 1e3:8.1f} {max(w) * 1e3:8.1f} "
            f"{statistics.median(w) / floor_whole:8.2f}   {min(i) * 1e3:10.1f} {statistics.median(i) * 1e3:10.1f} "
            f"{max(i) * 1e3:10.1f} {(statistics.median(i) - floor_inside) * 1e3:11.1f}"
        )


if __name__ == "__main__":
    main()
