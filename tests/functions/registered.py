"""The functions function_app.py registers, indexed once: `FunctionApp.get_functions()` refuses a second call
(it sees every name again as a duplicate), so every test module here reads them from this one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.functions.decorators.function_app import Function

import function_app

INDEXED: dict[str, Function] = {str(f.get_function_name()): f for f in function_app.app.get_functions()}


def user_function(name: str) -> Callable[..., Any]:
    """The callable the host invokes for `name`, with every decorator the app put on it (error handling, the
    route id check)."""
    return INDEXED[name].get_user_function()
