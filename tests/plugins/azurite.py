"""Azurite fixtures: one in-memory table service per test session, a fresh table prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from localdev import azurite
from localdev.procs import free_port


@pytest.fixture(scope="session")
def azurite_service() -> Iterator[azurite.Service]:
    with azurite.service(free_port()) as svc:
        yield svc


@pytest.fixture(scope="session")
def tables_connection_string(azurite_service: azurite.Service) -> str:
    return azurite.connection_string(azurite_service.port)


@pytest.fixture
def table_prefix() -> str:
    """A unique table-name prefix so tests never see each other's rows."""
    return "t" + uuid.uuid4().hex[:10]
