"""scripts/cluster with two nodes behind nginx on PostgreSQL and Redis: an API configured
through the load balancer's admin upstream is served by both nodes, and calls keep
succeeding while one node is SIGKILLed mid-run.

Which node served a call is read from nginx's access log (`upstream=$upstream_addr`);
which worker, from the X-Request-Id the upstream receives (each worker's ids share a
prefix). The cluster gets its own database (dropped and re-created) and Redis db 12.
"""

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.serial

CREATE_ADMIN_KEY = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
user, _ = get_user_model().objects.get_or_create(
    username="cluster-test", defaults={"is_staff": True, "is_superuser": True})
print("KEY", Token.objects.get_or_create(user=user)[0].key)
"""


def _services() -> tuple[str, str]:
    """(DATABASE_URL, REDIS_URL) of the cluster: the local services, or the hosts of the
    test run's own DATABASE_URL / REDIS_URL when those are PostgreSQL and Redis."""
    database = urllib.parse.urlparse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x")
    )
    if not database.scheme.startswith("postgres"):
        database = urllib.parse.urlparse("postgres://postgres@127.0.0.1:5432/x")
    redis = urllib.parse.urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    return (
        database._replace(path="/gatekeep_cluster_test").geturl(),
        redis._replace(path="/12").geturl(),
    )


def _reachable(url: str, default_port: int) -> bool:
    parsed = urllib.parse.urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or default_port), 2):
            return True
    except OSError:
        return False


def _free_base_port() -> int:
    """A base port whose load-balancer and two nodes' ports are all free."""
    for _ in range(50):
        base = random.randrange(20000, 40000, 100)
        ports = [base, base + 1] + [base + 10 * n + k for n in (1, 2) for k in (0, 1, 2)]
        try:
            for port in ports:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no free port range")


class RecordingUpstream:
    """A loopback upstream that answers 200 and remembers each call's X-Request-Id and Via."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                calls.append((self.headers.get("X-Request-Id", ""), self.headers.get("Via", "")))
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # connections of the killed node are reset

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cluster(tmp_path):
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        pytest.skip("nginx is not installed (apt-get install -y nginx-light)")
    database_url, redis_url = _services()
    if not _reachable(database_url, 5432):
        pytest.skip(f"PostgreSQL is not reachable at {database_url}")
    if not _reachable(redis_url, 6379):
        pytest.skip(f"Redis is not reachable at {redis_url}")
    import psycopg
    import redis

    maintenance = urllib.parse.urlparse(database_url)._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute("DROP DATABASE IF EXISTS gatekeep_cluster_test WITH (FORCE)")
    redis.Redis.from_url(redis_url).flushdb()

    state = tmp_path / "cluster"
    base = _free_base_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    env.pop("SECRET_KEY", None)
    log = (tmp_path / "cluster.log").open("w")
    process = subprocess.Popen(
        [
            *(sys.executable, "scripts/cluster.py", "--nodes", "2", "--workers", "2", "--restart"),
            *("--base-port", str(base), "--state-dir", str(state)),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while not (state / "ready").exists():
            assert process.poll() is None, (tmp_path / "cluster.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "cluster.log").read_text()
            time.sleep(0.2)
        info = json.loads((state / "cluster.json").read_text())
        info["process"], info["env"], info["state"] = process, env, state
        yield info
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                subprocess.run([sys.executable, "scripts/cluster.py", "stop", "--state-dir", state])
        log.close()


def admin_key(env: dict) -> str:
    output = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", CREATE_ADMIN_KEY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(line.split()[1] for line in output.splitlines() if line.startswith("KEY "))


def served_by(state: Path) -> list[tuple[str, int]]:
    """(node address, status) of every proxied call in nginx's access log, in order."""
    found = []
    for line in (state / "nginx-access.log").read_text().splitlines():
        if "/gateway/echo/" not in line:
            continue
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        status = int(line.split('" ')[1].split()[0])
        found.append((fields["upstream"], status))
    return found


def test_two_nodes_behind_nginx_share_the_load_and_survive_losing_one_and_its_return(cluster):
    upstream = RecordingUpstream()
    admin = requests.Session()
    try:
        admin.headers["Authorization"] = f"Token {admin_key(cluster['env'])}"
        base = cluster["lb_admin"] + "/api/v1"

        def call(method: str, path: str, expect: int, body=None) -> dict:
            response = admin.request(method, base + path, json=body, timeout=10)
            assert response.status_code == expect, (method, path, response.text)
            return response.json()

        api = call(
            "POST",
            "/apis/",
            201,
            {"name": "Echo", "version": "v1", "base_path": "/echo", "upstream_url": upstream.url},
        )
        call(
            "PUT",
            f"/apis/{api['id']}/policy/",
            200,
            {"authorization_servers": [], "allow_anonymous": True},
        )
        call(
            "POST",
            f"/apis/{api['id']}/routes/",
            201,
            {"method": "GET", "path": "/{path+}", "anonymous": True},
        )
        call("POST", f"/apis/{api['id']}/activate/", 200)

        # Every worker of every node serves the new API within a few config polls: ten
        # fresh connections in a row answered 200 (the kernel spreads them over workers).
        nodes = cluster["nodes"]
        deadline = time.monotonic() + 10
        for node in nodes:
            url = f"http://{node['public']}/gateway/echo/ping"
            in_a_row = 0
            while in_a_row < 10:
                ok = requests.get(url, timeout=5).status_code == 200
                in_a_row = in_a_row + 1 if ok else 0
                assert time.monotonic() < deadline, f"{node['name']} never served the API"

        # Through nginx: both nodes, several workers, all 200.
        lb = cluster["lb_public"] + "/gateway/echo/ping"
        upstream.calls.clear()
        statuses = [requests.get(lb, timeout=5).status_code for _ in range(40)]
        assert statuses == [200] * 40
        log = served_by(cluster["state"])
        assert {address for address, _ in log[-40:]} == {n["public"] for n in nodes}
        workers = {request_id[:20] for request_id, _ in upstream.calls}
        # nginx keeps its connections to the nodes alive, so one client in sequence reaches
        # one worker per node; the upstream sees each through its own request-id prefix.
        assert len(workers) >= 2, workers
        assert all(via.startswith("1.1 gatekeep-") for _, via in upstream.calls)

        # A soak through nginx while node 1 dies (SIGKILL to its whole process group) and
        # comes back (scripts/cluster --restart): every answer is the right one (200 for
        # the API, 404 for a path no API publishes); only calls in flight on the killed
        # node may fail, and none once it is back.
        results: list[tuple[str, int, float]] = []
        stop = threading.Event()
        nowhere = cluster["lb_public"] + "/gateway/nowhere/x"

        def load() -> None:
            with requests.Session() as session:
                n = 0
                while not stop.is_set():
                    url, expected = (lb, 200) if n % 3 else (nowhere, 404)
                    n += 1
                    try:
                        status = session.get(url, timeout=5).status_code
                    except requests.RequestException:
                        status = 0
                    results.append((url, status if status != expected else 200, time.monotonic()))

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        before_kill = len(results)
        killed_at = time.monotonic()
        os.killpg(nodes[0]["pid"], signal.SIGKILL)
        time.sleep(2)
        # The survivor alone serves meanwhile.
        alone = served_by(cluster["state"])[-30:]
        assert {address for address, status in alone} == {nodes[1]["public"]}, alone
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://{nodes[0]['public']}/readyz", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "node 1 never came back"
            time.sleep(0.2)
        back_at = time.monotonic()
        time.sleep(4)
        stop.set()
        for thread in threads:
            thread.join(10)
        wrong = [(url, status) for url, status, _ in results if status != 200]
        after_return = [(u, s) for u, s, at in results if at > back_at + 0.5 and s != 200]
        calls_after = sum(1 for _, _, at in results if at > back_at + 0.5)
        assert before_kill > 20 and calls_after > 50, (before_kill, calls_after)
        assert len(wrong) <= 4, f"{len(wrong)} wrong of {len(results)}: {wrong[:10]}"
        assert not after_return, after_return
        print(
            f"soak: {len(results)} calls, {len(wrong)} failed (in flight on the killed node), "
            f"node back after {back_at - killed_at:.1f} s"
        )
        # nginx sends calls to the restarted node again.
        returned = served_by(cluster["state"])[-60:]
        assert {address for address, _ in returned} == {n["public"] for n in nodes}, returned
        assert requests.get(f"http://{nodes[1]['public']}/readyz", timeout=5).status_code == 200
    finally:
        upstream.stop()
        admin.close()

    # Ctrl-C stops the rest: nginx, both nodes, Celery.
    restarted = json.loads((cluster["state"] / "cluster.json").read_text())["nodes"][0]["pid"]
    assert restarted != nodes[0]["pid"]
    process = cluster["process"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=40) == 0
    for pid in [restarted, nodes[1]["pid"], *cluster["celery"].values(), cluster["nginx_pid"]]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 0)
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
            assert state == "Z", f"{pid} still runs ({state})"
