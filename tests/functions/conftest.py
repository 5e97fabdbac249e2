"""Every function here runs over fake services: the `services()` cache is emptied and the composition root's
`build_services` answers with the in-memory app, so the first call inside a test builds exactly that."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from interconnect.app import bootstrap
from tests.functions.harness import FakeApp


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApp]:
    fake = FakeApp()
    bootstrap.services.cache_clear()
    monkeypatch.setattr(bootstrap, "build_services", lambda settings=None: fake.services)
    yield fake
    bootstrap.services.cache_clear()  # no test's services outlive it
