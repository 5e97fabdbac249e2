"""A local cloud of its own for the reliability tests: on-disk Azurite (it must survive restarts), a queue
with a short lock (a killed host's messages come back in seconds, not a minute), a fast sweeper."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from localdev.armsim import ArmSimAdmin
from localdev.chaos import Api
from localdev.cloud import QUEUES, LocalCloud
from localdev.procs import free_port

SETTINGS = {
    "INTERCONNECT_POLL_INTERVAL_SECONDS": "1",
    "INTERCONNECT_STALE_MINUTES": "0.5",
    "INTERCONNECT_SWEEP_SCHEDULE": "*/2 * * * * *",
    "INTERCONNECT_APPROVALS": "off",
}


@pytest.fixture(scope="module")
def chaos_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    directory = tmp_path_factory.mktemp("chaos")
    config = json.loads(QUEUES.read_text())
    for queue in config["queues"]:
        queue["lockDuration"] = "PT5S"
    queues = directory / "queues.json"
    queues.write_text(json.dumps(config))
    cloud = LocalCloud(queues=queues, data_dir=directory, host_port=free_port(), extra_settings=SETTINGS,
                       log_dir=directory / "logs")
    with cloud:
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
