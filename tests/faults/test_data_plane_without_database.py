"""A data-plane node with no database credentials (DATABASE_URL=none, serve --plane public).

It shares a real redis-server with a full node: the full node's writes compile the
snapshot once, before announcing it, and the database-less node serves it; its
key sets come from Redis too, an unknown kid is fetched by a Celery task (eager
in the full node here, a worker in production) and picked up from Redis; its
/readyz has no database check; it keeps serving with Redis stopped, and a restart
while Redis is down starts from its state directory.
"""

import os
import subprocess
import sys
import time

import pytest
import requests

from core import config_bus
from tests.faults.test_propagation import new_route, seen_everywhere
from tests.production import ROOT, database_url
from tests.tokens import new_rsa_key


@pytest.fixture
def celery_worker_on(tmp_path):
    """A real Celery worker on a given Redis, with the test database (it fetches keys)."""
    processes = []

    def start(redis_url: str) -> None:
        env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": redis_url}
        env["GATEWAY_STATE_DIR"] = str(tmp_path / "worker")
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "gateway_admin",
                    "worker",
                    "--pool=solo",
                    "--loglevel=WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def eventually_ok(url: str, token_for, seconds: float = 15.0) -> float:
    started = time.monotonic()
    while True:
        response = requests.get(url, headers={"Authorization": f"Bearer {token_for()}"}, timeout=10)
        if response.status_code == 200:
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, response.text
        time.sleep(0.1)


def test_a_node_without_database_credentials_serves_what_the_writer_compiled(
    published, production_gateway, redis_server, celery_worker_on, settings, tmp_path
):
    settings.REDIS_URL = redis_server.url  # this process (the writer) announces there
    celery_worker_on(redis_server.url)
    full = production_gateway(
        env={"REDIS_URL": redis_server.url, "GATEWAY_STATE_DIR": str(tmp_path / "full")}
    )
    seen_everywhere([full], "/health", 10)  # the full node compiled and shared version 1
    edge_env = {
        "DATABASE_URL": "none",
        "REDIS_URL": redis_server.url,
        "GATEWAY_STATE_DIR": str(tmp_path / "edge"),
        "GATEWAY_INTERNAL_URL": f"http://127.0.0.1:{full.internal_port}",
        "GATEWAY_CONFIG_POLL_SECONDS": "30",  # only the announcement can be this quick
        "GATEWAY_KEYS_POLL_SECONDS": "0.5",
    }
    edge = production_gateway(env=edge_env, workers=2, plane="public")
    pets = f"{edge.url}/gateway/petstore/v1/pets"

    # No key set in Redis yet: the edge asks the Celery worker to fetch it, then reads it.
    fetched = eventually_ok(pets, lambda: published.token())
    print(f"keys fetched by the worker and served by the edge after {fetched:.2f} s")
    forged = published.token(aud="elsewhere")
    refused = requests.get(pets, headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert refused.status_code == 401

    # The IdP rotates: a token under a new kid is accepted once the worker fetched it.
    new_key = new_rsa_key(kid="rotated-in")
    published.idp.keys.append(new_key)
    eventually_ok(pets, lambda: published.token(key=new_key))

    # A change committed here is compiled here, once, then announced: the edge node
    # (which could not compile it) serves it at once.
    before = config_bus.compiles()
    new_route(published, "/edge-added")
    assert config_bus.compiles() == before + 1  # compiled by the writer, before announcing
    elapsed = seen_everywhere([edge], "/edge-added", 2.0)
    time.sleep(0.5)
    assert config_bus.compiles() == before + 1
    print(f"database-less node served the change after {elapsed * 1000:.0f} ms")

    ready = requests.get(f"{edge.url}/readyz").json()
    assert "database" not in ready["checks"], ready
    assert ready["checks"]["cache"] is True

    # Redis down: the edge keeps serving from memory; a restart starts from its state dir.
    redis_server.stop()
    for n in range(5):
        token = published.token(sub=f"outage-{n}")
        response = requests.get(
            f"{edge.url}/gateway/petstore/v1/pets", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
    edge.stop()
    restarted = production_gateway(env=edge_env, workers=1, plane="public")
    response = requests.get(f"{restarted.url}/gateway/petstore/v1/edge-added", timeout=10)
    assert response.status_code == 200, response.text
    token = published.token(sub="after-restart")
    response = requests.get(
        f"{restarted.url}/gateway/petstore/v1/pets", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    ready = requests.get(f"{restarted.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "degraded", ready.text


def test_a_node_without_a_database_refuses_to_run_the_control_plane(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": "none",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "GATEWAY_STATE_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "serve --plane public" in result.stderr


def test_beat_puts_the_version_and_snapshot_back_after_redis_lost_them(
    published, redis_server, settings
):
    from core.config_version import database_version, version_number
    from proxy.tasks import publish_current_config

    settings.REDIS_URL = redis_server.url
    version = database_version()
    assert publish_current_config() == version  # nothing was in this fresh Redis
    assert config_bus.announced_version() == version
    assert config_bus.has_snapshot(version_number(version))
    assert publish_current_config() is None  # in place: nothing to do

    redis_server.stop()
    redis_server.restart()  # keeps nothing on disk: pointer and snapshots gone
    assert config_bus.announced_version() is None
    assert publish_current_config() == version
    assert config_bus.has_snapshot(version_number(version))
