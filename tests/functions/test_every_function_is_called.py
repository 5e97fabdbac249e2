"""Every function function_app.py registers is called by a handler test here: registering a new one without a
test that calls it fails this module, by name.

What counts as called is read from the test modules' source: a function name written as a string (or either
branch of a conditional of two) as the first argument of a `….call(...)`, which FakeApp.call turns into the
registered function of that name. Read statically, so the answer does not depend on which tests ran, nor in
which order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from tests.functions.registered import INDEXED

HERE = Path(__file__).parent


def called_functions(sources: Iterable[str]) -> set[str]:
    """The function names the first argument of every `.call(...)` in `sources` can be."""
    names: set[str] = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "call"
                and node.args
            ):
                names |= _named(node.args[0])
    return names


def _named(expr: ast.expr) -> set[str]:
    """The function names an argument can be: a string, or either branch of `"a" if … else "b"`."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        return _named(expr.body) | _named(expr.orelse)
    return set()


def handler_test_sources() -> list[str]:
    return [path.read_text(encoding="utf-8") for path in sorted(HERE.glob("test_*.py"))]


def test_every_registered_function_is_called_by_a_handler_test() -> None:
    missing = set(INDEXED) - called_functions(handler_test_sources())
    assert not missing, f"registered in function_app.py but called by no test in tests/functions: {sorted(missing)}"


def test_the_handler_tests_call_only_registered_functions() -> None:
    unknown = called_functions(handler_test_sources()) - set(INDEXED)
    assert not unknown, f"tests/functions call functions the app does not register: {sorted(unknown)}"


def test_the_count_sees_a_function_that_no_test_calls() -> None:
    # The check itself can fail: a test module that calls only `health` leaves every other function missing.
    calls = called_functions(
        [
            'app.call("health", request("GET", "health"))',
            'app.call("approve_request" if approve else "reject_request", req)',
        ]
    )
    assert calls == {"health", "approve_request", "reject_request"}
    assert set(INDEXED) - calls == set(INDEXED) - {"health", "approve_request", "reject_request"} != set()
