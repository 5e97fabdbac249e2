"""Calling user functions: arguments by binding name, async support, logging, and drain on shutdown.

Every trigger goes through `Invoker.run`, so each invocation is logged once (function, trigger,
outcome, duration) and counted, which lets shutdown wait for in-flight work. `async def` functions run
on one long-lived event loop, as in the Python worker, so clients an app caches across invocations
stay bound to a live loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import azure.functions as func
from azure.functions import _abc

from localdev.host.bindings import CONTEXT_PARAMETER, FunctionSpec

log = logging.getLogger("localdev.host")
R = TypeVar("R")


class Draining(Exception):
    """The host is shutting down and starts no new invocations."""


class _TraceContext(_abc.TraceContext):
    def __init__(self, trace_parent: str | None) -> None:
        self._trace_parent = trace_parent or f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RpcException(_abc.RpcException):
    def __init__(self, error: BaseException) -> None:
        self._error = error

    @property
    def source(self) -> str:
        return type(self._error).__module__

    @property
    def stack_trace(self) -> str:
        return "".join(traceback.format_exception(self._error))

    @property
    def message(self) -> str:
        return str(self._error)


class RetryContext(_abc.RetryContext):
    def __init__(self, retry_count: int, max_retry_count: int, error: BaseException | None) -> None:
        self._retry_count = retry_count
        self._max_retry_count = max_retry_count
        self._error = error

    @property
    def retry_count(self) -> int:
        return self._retry_count

    @property
    def max_retry_count(self) -> int:
        return self._max_retry_count

    @property
    def exception(self) -> _abc.RpcException:
        return _RpcException(self._error) if self._error else None  # type: ignore[return-value]


class _Context(func.Context):
    def __init__(
        self, invocation_id: str, function_name: str, trace_parent: str | None, retry_context: RetryContext
    ) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._trace_context = _TraceContext(trace_parent)
        self._retry_context = retry_context
        self._storage = threading.local()
        self._storage.invocation_id = invocation_id

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]
        return self._storage

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return os.getcwd()

    @property
    def trace_context(self) -> _abc.TraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> _abc.RetryContext:
        return self._retry_context


class Invoker:
    """Runs invocations and tracks them so that shutdown can let them finish."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._active = 0
        self._draining = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(
        self,
        spec: FunctionSpec,
        trigger_value: Any,
        convert: Callable[[Any], R],
        *,
        trace_parent: str | None = None,
        retry: RetryContext | None = None,
    ) -> R:
        """Call `spec`'s function with the trigger value and pass its result through `convert`.

        Raises whatever the function (or `convert`) raised, after logging it; raises Draining if the
        host is shutting down.
        """
        with self._lock:
            if self._draining:
                raise Draining(spec.name)
            self._active += 1
        invocation_id = str(uuid.uuid4())
        kwargs = {spec.trigger_arg: trigger_value}
        if spec.wants_context:
            kwargs[CONTEXT_PARAMETER] = _Context(
                invocation_id, spec.name, trace_parent, retry or RetryContext(0, 0, None)
            )
        started = time.monotonic()
        try:
            result = convert(self._call(spec.handler, kwargs))
        except Exception:
            log.exception(
                "Executed 'Functions.%s' (trigger=%s, Failed, Id=%s, Duration=%dms)",
                spec.name,
                spec.trigger.kind,
                invocation_id,
                _ms_since(started),
            )
            raise
        finally:
            with self._lock:
                self._active -= 1
                self._lock.notify_all()
        log.info(
            "Executed 'Functions.%s' (trigger=%s, Succeeded, Id=%s, Duration=%dms)",
            spec.name,
            spec.trigger.kind,
            invocation_id,
            _ms_since(started),
        )
        return result

    def drain(self, timeout: float) -> bool:
        """Refuse new invocations and wait up to `timeout` s for running ones; True if none is left."""
        with self._lock:
            self._draining = True
            finished = self._lock.wait_for(lambda: self._active == 0, timeout)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        return finished

    def _call(self, handler: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        if not inspect.iscoroutinefunction(handler):
            return handler(**kwargs)
        return asyncio.run_coroutine_threadsafe(handler(**kwargs), self._event_loop()).result()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="async-functions", daemon=True).start()
            return self._loop


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
