"""Fixtures of the policy chain: policies attached through the services, as the admin does."""

import time

import pytest

from core.config_version import database_version, version_number
from policies import services
from proxy.config import config_holder


def wait_for_config(timeout: float = 10.0) -> None:
    """Until the data plane (a thread of this process) serves the database's version."""
    wanted = version_number(database_version())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        config = config_holder.snapshot()
        if config is None or version_number(config.version) >= wanted:
            return  # None: loaded on the next call, at the latest version
        time.sleep(0.05)
    raise AssertionError("the data plane did not pick up the change")


@pytest.fixture
def attach(published):
    """attach(Model, **fields): save a policy of the published API through its service."""

    def attach(model, **fields):
        fields.setdefault("api", published.api)
        instance = services.save_policy(model(**fields))
        wait_for_config()
        return instance

    return attach
