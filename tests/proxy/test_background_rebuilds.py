"""Config rebuilds run off the request path, and a burst of changes is one rebuild (issue 21).

A ConfigHolder of this process follows versions as a data-plane worker does: the
announcement listener calls `announced()` for each version it hears. It must return
at once, and twenty announcements heard while a rebuild runs must not become twenty
rebuilds. The token inspector serves the config it has while a rebuild runs.
"""

import threading
import time

import pytest

from apis.models import Api
from apis.services import save_api
from core.config_version import database_version
from proxy.config import ConfigHolder, config_holder
from proxy.inspector import inspect_token

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


def _change(api: Api, n: int) -> str:
    """A change the proxy reads (the read timeout of an active API): a new version."""
    api.read_timeout = 10 + n
    save_api(api)
    return database_version()


def test_a_burst_of_announced_versions_is_one_rebuild(published):
    holder = ConfigHolder()
    first = holder.current()
    api = Api.objects.get(pk=published.api.pk)
    before = holder.rebuilds
    versions = [_change(api, n) for n in range(20)]
    for version in versions:
        holder.announced(version)  # what the listener does, once per message
    _wait_for(lambda: holder.snapshot().version == versions[-1])
    assert holder.snapshot() is not first
    assert holder.snapshot().apis[("petstore", "v1")].read_timeout == 29
    # The old holder rebuilt once per announcement: 20. Now the newest version wins.
    assert holder.rebuilds - before <= 2


def test_announcements_return_at_once_while_a_rebuild_runs(published):
    holder = ConfigHolder()
    holder.current()
    api = Api.objects.get(pk=published.api.pk)
    with holder._lock:  # a rebuild in progress (it holds the lock while it builds)
        started = time.monotonic()
        for n in range(5):
            holder.announced(_change(api, n))
        assert time.monotonic() - started < 2  # five writes, no rebuild waited for
        old = holder.snapshot()
    _wait_for(lambda: holder.snapshot() is not old)
    assert holder.snapshot().version == database_version()


def test_the_inspector_never_waits_for_a_rebuild(published):
    token = published.token(scope="pets:read")
    assert inspect_token(published.api, "GET", "/pets", token).allowed is True
    api = Api.objects.get(pk=published.api.pk)
    _change(api, 1)
    config_holder._checked_at = 0.0  # a version check is due
    answered = []
    with config_holder._lock:  # a rebuild in progress
        thread = threading.Thread(
            target=lambda: answered.append(inspect_token(published.api, "GET", "/pets", token))
        )
        thread.start()
        thread.join(timeout=5)
        assert answered, "the inspector waited for the rebuild"
    assert answered[0].allowed is True  # from the config it had
    _wait_for(lambda: config_holder.snapshot().version == database_version())
