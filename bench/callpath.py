"""How far one work item travels through the code: files crossed and cross-file returns in `Worker.handle`.

A measure of layout, not speed: a connect is filed on in-memory ports, then its first work item (`process`:
validate on facts, then start the ARM operation) is handled under a profiler hook that records every call and
return of the app's own code. Adapters (here the in-memory fakes standing in for Azure) are left out, because
they are the ports' far side, not the path a reader follows; so are dunder methods (a CloudId's `__eq__` and
`__hash__` run wherever ids are compared, which says nothing about the layout). A "return" is control coming
back from a function in one file to its caller in another; "edges" counts the distinct (from, to) file pairs.

    python -m bench.callpath
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "interconnect"


def _own(frame: FrameType | None) -> str | None:
    """The app file a frame runs in, relative to the repository, or None for anything else."""
    if frame is None:
        return None
    path = Path(frame.f_code.co_filename)
    if frame.f_code.co_name.startswith("__"):
        return None
    if not path.is_relative_to(PACKAGE) or path.is_relative_to(PACKAGE / "adapters"):
        return None
    return str(path.relative_to(ROOT))


def trace_one_work_item() -> tuple[list[str], int, Counter[str]]:
    from interconnect.linking.model import Action
    from tests.unit.world import World

    world = World()
    world.submit(Action.CONNECT)
    item, _ = world.queue.take()
    files: list[str] = []
    returns: Counter[str] = Counter()

    def hook(frame: FrameType, event: str, _: Any) -> None:
        here = _own(frame)
        if here is None:
            return
        if event == "call" and here not in files:
            files.append(here)
        elif event == "return":
            caller = _own(frame.f_back)
            if caller is not None and caller != here:
                returns[f"{here} -> {caller}"] += 1

    sys.setprofile(hook)
    try:
        world.worker.handle(item)
    finally:
        sys.setprofile(None)
    return files, sum(returns.values()), returns


def main() -> None:
    files, total, returns = trace_one_work_item()
    print(
        f"one connect's process work item through Worker.handle: {len(files)} files crossed, "
        f"{total} cross-file returns over {len(returns)} edges"
    )
    for name in files:
        print(f"  file    {name}")
    for edge, count in returns.most_common():
        print(f"  return  {edge}  x{count}")


if __name__ == "__main__":
    main()
