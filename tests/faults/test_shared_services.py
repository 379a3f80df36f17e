"""Shared services failing under a running gateway (gunicorn): Redis, then the database.

Redis: a real redis-server the test starts on its own port and stops mid-traffic.
Database: the gateway reaches it through something the test can cut for real:
with PostgreSQL a TCP relay in front of the server (cut = listener closed and
every relayed connection reset, so new connections are refused); with SQLite a
private copy of the test database that is moved away and replaced by a
directory (so every new connection fails to open it).
"""

import contextlib
import json
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

import redis
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from tests.production import database_url


class Traffic:
    """Background calls with a mix of cached and never-seen valid tokens; records statuses."""

    def __init__(self, url: str, tokens: list[str]):
        self.url, self.tokens = url, tokens
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        session = requests.Session()
        n = 0
        while not self._stop.is_set():
            token = self.tokens[n % len(self.tokens)]
            n += 1
            try:
                response = session.get(
                    self.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
                )
                self.statuses.append(response.status_code)
            except requests.RequestException:
                self.statuses.append(0)
            time.sleep(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(15)


def readiness(gateway) -> tuple[int, dict]:
    response = requests.get(gateway.url + "/readyz", timeout=15)
    return response.status_code, response.json()["checks"]


def readiness_status(gateway) -> tuple[str, list[str]]:
    payload = requests.get(gateway.url + "/readyz", timeout=15).json()
    return payload["status"], payload.get("down", [])


def wait_for(predicate, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_redis_stopped_mid_traffic_keeps_the_gateway_serving(
    published, production_gateway, redis_server
):
    gateway = production_gateway(
        env={"REDIS_URL": redis_server.url, "CELERY_TASK_ALWAYS_EAGER": "true"}, workers=2
    )
    url = f"{gateway.url}/gateway/petstore/v1/pets"
    warm = [published.token(sub=f"warm-{n}") for n in range(20)]
    fresh = [published.token(sub=f"fresh-{n}") for n in range(300)]  # never seen before
    for token in warm:
        assert requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10).ok
    everything = {"database": True, "cache": True, "broker": True, "config": True}
    assert readiness(gateway) == (200, everything)

    with Traffic(url, warm) as cached, Traffic(url, fresh) as new:
        time.sleep(1)
        redis_server.stop()
        outage_started = len(cached.statuses) + len(new.statuses)
        time.sleep(1)
        # Still serving from memory: ready, but degraded, saying which service is down.
        status, checks = readiness(gateway)
        assert status == 200
        assert checks["cache"] is False
        assert checks["database"] is True
        for _ in range(5):
            assert readiness_status(gateway) == ("degraded", ["broker", "cache"])
        # Logged once per state change and worker, not once per probe.
        outage_lines = [line for line in gateway.log if "Readiness: unavailable" in line]
        assert 1 <= len(outage_lines) <= 2, outage_lines
        time.sleep(2)
        during_outage = len(cached.statuses) + len(new.statuses) - outage_started
    assert during_outage > 20, "traffic stalled while Redis was down"
    assert set(cached.statuses) == {200}
    assert set(new.statuses) == {200}

    redis_server.restart()
    assert wait_for(lambda: readiness(gateway)[0] == 200), "readyz never recovered"


class TcpRelay:
    """127.0.0.1:<port> → target, until cut(): then refused, and live connections reset."""

    def __init__(self, target: tuple[str, int], port: int = 0):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.cut_event = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def restore(self) -> None:
        """Listen again on the same port: the database is back."""
        self.__init__(self.target, self.port)

    def _accept(self) -> None:
        while not self.cut_event.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cut_event.set()
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass


class BrokenDatabase:
    """A database the gateway process can lose for real, whichever engine the tests use."""

    def __init__(self, tmp_path: Path):
        db = connection.settings_dict
        self.sqlite = db["ENGINE"].endswith("sqlite3")
        if self.sqlite:
            self.path = tmp_path / "gateway.sqlite3"
            shutil.copy(db["NAME"], self.path)  # written before the copy: sessions, config
            self.url = f"sqlite:///{self.path}"
        else:
            self.relay = TcpRelay((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
            self.url = (
                database_url().rsplit("@", 1)[0] + f"@127.0.0.1:{self.relay.port}/{db['NAME']}"
            )

    def cut(self) -> None:
        if self.sqlite:
            self.path.rename(self.path.with_suffix(".away"))
            self.path.mkdir()  # sqlite3 cannot open a directory: "unable to open database file"
        else:
            self.relay.cut()

    def restore(self) -> None:
        if self.sqlite:
            self.path.rmdir()
            self.path.with_suffix(".away").rename(self.path)
        else:
            self.relay.restore()

    def close(self) -> None:
        if not self.sqlite:
            self.relay.cut()


def test_the_database_going_away_leaves_active_apis_served_and_pages_clear(
    published, production_gateway, redis_server, tmp_path
):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456789")
    browser = Client()
    browser.force_login(admin)  # a session row in the database, as after a real login
    name = settings.SESSION_COOKIE_NAME
    session_cookie = f"{name}={browser.cookies[name].value}"
    database = BrokenDatabase(tmp_path)
    try:
        gateway = production_gateway(
            env={
                "DATABASE_URL": database.url,
                "REDIS_URL": redis_server.url,
                "CELERY_TASK_ALWAYS_EAGER": "true",
            }
        )
        url = f"{gateway.url}/gateway/petstore/v1/pets"
        assert requests.get(url, headers={"Authorization": f"Bearer {published.token()}"}).ok
        admin_page = requests.get(gateway.admin_url + "/admin/", headers={"Cookie": session_cookie})
        assert admin_page.status_code == 200
        assert readiness(gateway)[0] == 200

        database.cut()

        # Proxied calls: served from the in-memory route table and key set.
        for n in range(20):
            token = published.token(sub=f"during-outage-{n}")
            response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert response.status_code == 200, response.text
        # A config change announced while the database is down cannot be loaded: the
        # gateway keeps the configuration it has instead of failing.
        shared = redis.Redis.from_url(redis_server.url)
        newer = f"999999.{uuid.uuid4().hex}"
        shared.set("gatekeep:config:current", newer)
        shared.publish("gatekeep:config", newer)
        time.sleep(1.2)
        for _ in range(5):
            response = requests.get(url, headers={"Authorization": f"Bearer {published.token()}"})
            assert response.status_code == 200, response.text
        # Unknown routes are still answered from memory too.
        assert requests.get(f"{gateway.url}/gateway/nowhere/v1/x").status_code == 404

        status, checks = readiness(gateway)
        assert status == 200  # serving from memory: degraded, not unavailable
        assert checks["database"] is False
        assert checks["cache"] is True
        assert readiness_status(gateway) == ("degraded", ["database"])

        page = requests.get(gateway.admin_url + "/admin/", headers={"Cookie": session_cookie})
        assert page.status_code == 503
        assert page.headers["Retry-After"] == "30"
        assert "database is unavailable" in page.text
        for leak in ("Traceback", 'File "', "OperationalError", "psycopg", "sqlite3", "/work/"):
            assert leak not in page.text, leak
        api = requests.get(
            gateway.admin_url + "/api/v1/apis/", headers={"Cookie": session_cookie}, timeout=10
        )
        assert api.status_code == 503
        assert json.loads(api.text)["code"] == "database_unavailable"
    finally:
        database.close()


def test_any_other_server_error_gets_the_plain_500_page(rf):
    """Django's own handler renders templates/500.html: no stack trace, nothing from the request."""
    from django.views.defaults import server_error

    response = server_error(rf.get("/admin/?secret=s3cr3t"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in page
    assert "s3cr3t" not in page and "Traceback" not in page
