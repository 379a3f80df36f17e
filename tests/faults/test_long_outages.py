"""A 60 s outage of PostgreSQL, then of Redis, under two running gateway nodes.

Both nodes (real `manage.py serve`, two data-plane workers each) share a
redis-server the test starts and a database the test can cut (BrokenDatabase: a
TCP relay in front of PostgreSQL, or a SQLite file moved away). Throughout, a
mix of calls whose right answer is known (valid, expired, wrong audience,
forged, unknown application, missing scope, suspended application, public
route, unknown API) runs against both nodes; every answer is compared with the
expected one. During each outage one node's worker is killed and the whole other
node restarted: they start from the last good snapshot (Redis or the state
file). A change made while Redis is down arrives by polling the database.

GATEKEEP_OUTAGE_SECONDS shortens the outages for a quick local run.
"""

import os
import signal
import threading
import time
from collections import Counter

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from applications.services import update_application
from tests.faults.test_propagation import new_route, seen_everywhere
from tests.faults.test_shared_services import BrokenDatabase, readiness
from tests.tokens import new_rsa_key

OUTAGE_SECONDS = float(os.environ.get("GATEKEEP_OUTAGE_SECONDS", "60"))

pytestmark = pytest.mark.serial


class Mix:
    """Calls with known right answers, cycled by a few threads against every node."""

    def __init__(self, published, suspended_client: str, urls: list[str]):
        forger = new_rsa_key(kid=published.rsa_key.key_id)
        self.cases = [
            ("valid", "/pets", lambda: published.token(sub=f"u{time.monotonic_ns()}"), 200),
            ("expired", "/pets", lambda: published.token(exp=int(time.time()) - 120), 401),
            ("wrong audience", "/pets", lambda: published.token(aud="somebody-else"), 401),
            ("forged", "/pets", lambda: published.token(key=forger), 401),
            ("unknown app", "/pets", lambda: published.token(client_id="stranger"), 403),
            ("missing scope", "/pets", lambda: published.token(scope="pets:write"), 403),
            ("suspended", "/pets", lambda: published.token(client_id=suspended_client), 403),
            ("no token", "/pets", lambda: None, 401),
            ("public route", "/health", lambda: None, 200),
        ]
        self.urls = urls  # replaced whole while a node restarts
        self.answers: Counter = Counter()
        self.wrong: list[tuple] = []
        self.failed: Counter = Counter()  # connection errors (a node being restarted)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(3)]

    def _run(self) -> None:
        session = requests.Session()
        n = 0
        while not self._stop.is_set():
            urls = list(self.urls)
            name, path, token_for, expected = self.cases[n % len(self.cases)]
            base = urls[n % len(urls)]
            n += 1
            token = token_for()
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            try:
                status = session.get(
                    f"{base}/gateway/petstore/v1{path}", headers=headers, timeout=10
                ).status_code
            except requests.RequestException:
                self.failed[base] += 1
                session = requests.Session()
                time.sleep(0.05)
                continue
            self.answers[name] += 1
            if status != expected:
                self.wrong.append((name, base, status, expected))
            time.sleep(0.003)

    def unknown_api_answer(self) -> int:
        return requests.get(f"{self.urls[0]}/gateway/nowhere/v1/x", timeout=10).status_code

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


def kill_one_worker(gateway) -> int:
    pid = gateway.worker_pids()[0]
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_for_new_worker(gateway, gone: int, count: int = 2) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = gateway.worker_pids()
        if gone not in pids and len(pids) == count:
            return
        time.sleep(0.1)
    raise AssertionError("gunicorn did not replace the killed worker")


def both_nodes(production_gateway, tmp_path, env: dict):
    nodes = []
    for name in ("a", "b"):
        node_env = {**env, "GATEWAY_STATE_DIR": str(tmp_path / name)}
        nodes.append((production_gateway(env=node_env, workers=2), node_env))
    return nodes


def suspend_an_application(published) -> str:
    from applications.models import Application, ApplicationStatus
    from applications.services import create_application

    application, _ = create_application(
        name="Suspended client",
        identifying_claims={"client_id": "suspended-client"},
        apis=[published.api],
    )
    update_application(
        Application.objects.get(pk=application.pk), status=ApplicationStatus.SUSPENDED
    )
    return "suspended-client"


def expect_clean(mix: Mix, during: dict) -> None:
    assert not mix.wrong, f"wrong decisions: {mix.wrong[:10]} ({len(mix.wrong)} in all)"
    assert set(mix.answers) == {case[0] for case in mix.cases}, mix.answers
    print(f"answers: {dict(mix.answers)}; during the outage: {during}; refused: {mix.failed}")


def test_sixty_seconds_without_the_database(
    published, production_gateway, redis_server, tmp_path, settings
):
    if connection.vendor != "postgresql":
        pytest.skip("changes after the cut reach a cut SQLite copy only through PostgreSQL")
    settings.REDIS_URL = redis_server.url  # this process announces on that Redis
    suspended = suspend_an_application(published)
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456789")
    browser = Client()
    browser.force_login(admin)
    session_cookie = (
        f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}"
    )
    database = BrokenDatabase(tmp_path)
    env = {
        "DATABASE_URL": database.url,
        "REDIS_URL": redis_server.url,
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "GATEWAY_CONFIG_POLL_SECONDS": "0.5",
    }
    try:
        (first, _), (second, second_env) = both_nodes(production_gateway, tmp_path, env)
        seen_everywhere([first, second], "/health", 15)
        with Mix(published, suspended, [first.url, second.url]) as mix:
            time.sleep(2)
            database.cut()
            outage_started = time.monotonic()
            cut_at = sum(mix.answers.values())
            time.sleep(OUTAGE_SECONDS / 3)

            # A worker that dies during the outage comes back on the shared snapshot.
            wait_for_new_worker(first, kill_one_worker(first))
            # A whole node restarted during the outage starts from its snapshot file.
            mix.urls = [first.url]
            second.stop()
            second = production_gateway(env=second_env, workers=2)
            mix.urls = [first.url, second.url]
            assert mix.unknown_api_answer() == 404

            status, checks = readiness(first)
            assert (status, checks["database"], checks["cache"]) == (200, False, True)
            # An admin write cannot happen: a clear 503, not a stack trace.
            write = requests.post(
                f"{first.admin_url}/api/v1/apis/",
                json={"name": "During", "base_path": "/during/v1", "upstream_url": "http://x"},
                headers={"Cookie": session_cookie},
                timeout=10,
            )
            assert write.status_code == 503, write.text
            assert write.json()["code"] == "database_unavailable"
            time.sleep(max(0.0, outage_started + OUTAGE_SECONDS - time.monotonic()))
            during = sum(mix.answers.values()) - cut_at
            database.restore()

            # Back: a change made now reaches both nodes.
            new_route(published, "/after-outage")
            seen_everywhere([first, second], "/after-outage", 5)
            time.sleep(1)
        assert during > 100 * OUTAGE_SECONDS / 60, "traffic stalled during the outage"
        expect_clean(mix, {"calls": during})
        assert readiness(first)[0] == 200
        from apis.models import Api

        assert not Api.objects.filter(name="During").exists()
    finally:
        database.close()


def test_sixty_seconds_without_redis(
    published, production_gateway, redis_server, tmp_path, settings
):
    settings.REDIS_URL = redis_server.url
    suspended = suspend_an_application(published)
    env = {
        "REDIS_URL": redis_server.url,
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "GATEWAY_CONFIG_POLL_SECONDS": "0.5",
    }
    (first, _), (second, second_env) = both_nodes(production_gateway, tmp_path, env)
    seen_everywhere([first, second], "/health", 15)
    with Mix(published, suspended, [first.url, second.url]) as mix:
        time.sleep(2)
        redis_server.stop()
        outage_started = time.monotonic()
        stopped_at = sum(mix.answers.values())
        time.sleep(OUTAGE_SECONDS / 4)

        status, checks = readiness(first)
        assert (status, checks["database"], checks["cache"]) == (200, True, False)
        # The logs say so (the readiness probe's state change, or the config poll's warning).
        said = ("Readiness: unavailable", "Redis unavailable")
        assert any(text in line for line in first.log for text in said), first.log[-20:]

        # Changes still converge while Redis is down: the poll reads the database.
        new_route(published, "/during-redis-outage")
        polled = seen_everywhere([first, second], "/during-redis-outage", 0.5 + 3.0)

        wait_for_new_worker(first, kill_one_worker(first))
        mix.urls = [first.url]
        second.stop()
        second = production_gateway(env=second_env, workers=2)
        mix.urls = [first.url, second.url]
        seen_everywhere([second], "/during-redis-outage", 5)
        assert mix.unknown_api_answer() == 404

        time.sleep(max(0.0, outage_started + OUTAGE_SECONDS - time.monotonic()))
        during = sum(mix.answers.values()) - stopped_at
        redis_server.restart()

        # Back: readiness recovers and announcements work again.
        deadline = time.monotonic() + 15
        while readiness(first)[0] != 200 or not readiness(first)[1]["cache"]:
            assert time.monotonic() < deadline, "readyz never saw Redis again"
            time.sleep(0.2)
        new_route(published, "/after-redis-outage")
        seen_everywhere([first, second], "/after-redis-outage", 3)
        time.sleep(1)
    assert during > 100 * OUTAGE_SECONDS / 60, "traffic stalled during the outage"
    expect_clean(mix, {"calls": during, "polled change seen after (s)": round(polled, 3)})
