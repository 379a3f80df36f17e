"""The refresh task in a real Celery worker, with Redis as the broker."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from authservers.models import AuthorizationServer, JwksSnapshot
from authservers.tasks import refresh_jwks

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(
        not settings.REDIS_URL, reason="needs REDIS_URL (a real broker); CI sets it"
    ),
]
ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db):
    queue = f"gatekeep-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "gateway_admin",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    yield queue
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for_snapshot(server) -> JwksSnapshot | None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        snapshot = JwksSnapshot.objects.filter(server=server, fetched_at__isnull=False).first()
        if snapshot:
            return snapshot
        time.sleep(0.2)
    return None


def test_a_worker_runs_the_refresh_task_and_updates_the_snapshot(worker, idp):
    server = AuthorizationServer.objects.create(name="kc", issuer=idp.issuer)
    refresh_jwks.apply_async(args=[server.pk], queue=worker)
    snapshot = wait_for_snapshot(server)
    assert snapshot is not None, "the worker never refreshed the keys"
    assert sorted(snapshot.key_ids) == ["ec-1", "rsa-1"]
    assert idp.hits == 1
