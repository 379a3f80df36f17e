"""Many nodes, one truth: a change reaches every data-plane process at once.

Real `manage.py serve` processes (tests/production.py) and a real redis-server the
test starts: a committed change is announced on the config channel, each worker
loads the snapshot compiled once for that version (core/config_bus.py), the poll
is the safety net without Redis, and a worker that starts while the database is
unreachable serves the last good snapshot from GATEWAY_STATE_DIR.
"""

import time

import requests

from apis.models import Route
from apis.services import save_route
from core import config_bus
from tests.production import free_port


def new_route(published, path: str) -> None:
    """An anonymous route, saved through the one write path (the admin API's)."""
    save_route(Route(api=published.api, method="GET", path=path, anonymous=True))


def seen_everywhere(gateways, path: str, budget: float) -> float:
    """Seconds until every gateway (every worker: a few calls each) serves `path`."""
    started = time.monotonic()
    pending = list(gateways)
    session = requests.Session()
    while pending and time.monotonic() - started < budget:
        gateway = pending[0]
        response = session.get(f"{gateway.url}/gateway/petstore/v1{path}", timeout=5)
        if response.status_code == 200:
            pending.pop(0)
        else:
            time.sleep(0.002)
    assert not pending, f"{len(pending)} gateway(s) never served {path} within {budget} s"
    return time.monotonic() - started


def wait_until(predicate, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition never met")


def test_a_change_reaches_two_processes_at_once_and_is_compiled_once(
    published, production_gateway, redis_server, settings, tmp_path
):
    settings.REDIS_URL = redis_server.url  # this process announces on that Redis
    env = {
        "REDIS_URL": redis_server.url,
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "GATEWAY_CONFIG_POLL_SECONDS": "30",  # so only the announcement can be this quick
    }
    first = production_gateway(env={**env, "GATEWAY_STATE_DIR": str(tmp_path / "a")}, workers=2)
    second = production_gateway(env={**env, "GATEWAY_STATE_DIR": str(tmp_path / "b")}, workers=2)
    seen_everywhere([first, second], "/health", 10)
    # Four workers started on the same version: it was compiled once.
    wait_until(lambda: config_bus.compiles() >= 1)
    time.sleep(1.0)
    assert config_bus.compiles() == 1

    figures = []
    for n in range(3):
        before = config_bus.compiles()
        new_route(published, f"/added-{n}")
        figures.append(seen_everywhere([first, second], f"/added-{n}", 1.0))
        time.sleep(0.5)  # every worker of both gateways got it by now
        assert config_bus.compiles() == before + 1
    print(f"announced change seen by both gateways after {[round(f * 1000) for f in figures]} ms")
    assert max(figures) < 1.0


def test_without_redis_the_poll_brings_the_change(published, production_gateway, tmp_path):
    gateways = [
        production_gateway(env={"GATEWAY_CONFIG_POLL_SECONDS": "0.5"}, workers=1) for _ in range(2)
    ]
    seen_everywhere(gateways, "/health", 10)
    new_route(published, "/polled")
    elapsed = seen_everywhere(gateways, "/polled", 0.5 + 2.0)
    print(f"polled change seen by both gateways after {elapsed * 1000:.0f} ms")


def test_a_worker_started_without_its_database_serves_the_snapshot_file(
    published, production_gateway, tmp_path
):
    state = str(tmp_path / "state")
    gateway = production_gateway(env={"GATEWAY_STATE_DIR": state})
    seen_everywhere([gateway], "/health", 10)  # loaded: the snapshot file is written
    gateway.stop()

    unreachable = f"postgres://postgres@127.0.0.1:{free_port()}/nowhere"
    cut_off = production_gateway(env={"GATEWAY_STATE_DIR": state, "DATABASE_URL": unreachable})
    response = requests.get(f"{cut_off.url}/gateway/petstore/v1/health", timeout=10)
    assert response.status_code == 200, response.text
    assert published.upstream.hits >= 2
    nowhere = requests.get(f"{cut_off.url}/gateway/nowhere/v1/x", timeout=10)
    assert nowhere.status_code == 404
