"""A local cloud of its own for the reliability tests (see localdev.chaos.chaos_cloud)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localdev import chaos
from localdev.armsim import ArmSimAdmin
from localdev.chaos import Api
from localdev.cloud import LocalCloud


@pytest.fixture(scope="module")
def chaos_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with chaos.chaos_cloud(tmp_path_factory.mktemp("chaos")) as cloud:
        yield cloud


@pytest.fixture
def api(chaos_cloud: LocalCloud) -> Api:
    return Api(chaos_cloud.host_url)


@pytest.fixture
def arm(chaos_cloud: LocalCloud) -> ArmSimAdmin:
    return ArmSimAdmin(chaos_cloud.arm_url)


def logs(cloud: LocalCloud) -> Path:
    assert cloud.log_dir is not None
    return cloud.log_dir
