"""How long a config change takes to reach every data-plane worker of every node.

    bench/convergence                        # against a running scripts/cluster (.cluster/)
    bench/convergence --start 3 --runs 3     # start a 3-node cluster, 3 runs, stop it
    bench/convergence --changes 40 --json

Each change is made through one node's admin API (node 1); the clock starts when that call
has answered. Every worker is probed on its own: before the first change the bench opens
keep-alive connections to each node's public listener (not through nginx) until it holds
one per worker (the X-Request-Id prefix, 20 hex characters, names the worker), and one
thread per worker then probes over that pinned connection every `--interval` ms (5 by
default: about 1,200 probes a second for 6 workers, so the probing does not itself load the
machine the workers share). (Fresh connections per probe
sample the workers unevenly: the kernel hands a shared listening socket's connections to
whichever worker waits last, so one worker can go unprobed for 200 ms.) A worker has
converged at its first answer that matches the new config; the change has converged when
every worker of every node has. Reported: per-worker convergence times over all changes
(p50, p99, max), the per-change time until the last worker (p50, max), the writer's part
(commit answered to announcement heard on the bus) and the sampling resolution (the mean
time between two probes of one worker).

The changes cycle through: add a route (404 -> 200), make a route require a token
(200 -> 401), make it anonymous again (401 -> 200), require another scope on the token's
route (200 -> 403) and the token's scope again (403 -> 200), suspend the application
(200 -> 403), resume it (403 -> 200), deactivate the API (200 -> 404), activate it
(404 -> 200), revoke the signing key of the token (200 -> 401; a new token is minted
before the next change, untimed). Only the status code tells old from new, so whatever
carries the change to the workers (announcements or the poll) is measured the same way. What it
created (API, application, internal authorization server) is deleted at the end.
"""

import argparse
import base64
import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BASE_PATH = "/convergence"

ISSUE_TOKEN = """
from applications.models import Application
from authservers.models import AuthorizationServer
from issuer.test_tokens import issue_test_token
token = issue_test_token(
    Application.objects.get(pk={application}), AuthorizationServer.objects.get(pk={server}),
    scope="convergence:read")
print("TOKEN", token)
"""

CREATE_ADMIN_KEY = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
user, _ = get_user_model().objects.get_or_create(
    username="convergence-bench", defaults={"is_staff": True, "is_superuser": True})
print("KEY", Token.objects.get_or_create(user=user)[0].key)
"""


class Upstream:
    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The head and the body go out in two writes: with Nagle on, the body waits
            # for the gateway's delayed ACK (40 ms), which the first probe would measure.
            disable_nagle_algorithm = True

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Pinned:
    """A keep-alive connection to one node that one worker serves (learned from its answers)."""

    def __init__(self, address: str) -> None:
        host, port = address.rsplit(":", 1)
        self.address = address
        self.connection = http.client.HTTPConnection(host, int(port), timeout=5)
        self.worker = ""

    def probe(self, path: str, headers: dict | None = None) -> tuple[int, str]:
        try:
            return self._exchange(path, headers)
        except (http.client.HTTPException, OSError):
            if not self.worker:
                raise
            self._reconnect()  # the server closed an idle keep-alive connection
            return self._exchange(path, headers)

    def _exchange(self, path: str, headers: dict | None) -> tuple[int, str]:
        self.connection.request("GET", path, headers=headers or {})
        response = self.connection.getresponse()
        response.read()
        return response.status, (response.getheader("X-Request-Id") or "")[:20]

    def _reconnect(self) -> None:
        """A new connection that this pin's worker serves (others are held open meanwhile)."""
        self.connection.close()
        held = []
        try:
            for _ in range(200):
                candidate = Pinned(self.address)
                if candidate.probe("/gateway/none")[1] == self.worker:
                    self.connection = candidate.connection
                    return
                held.append(candidate)
            raise RuntimeError(f"worker {self.worker} no longer answers on {self.address}")
        finally:
            for candidate in held:
                candidate.close()

    def close(self) -> None:
        self.connection.close()


class Admin:
    def __init__(self, info: dict):
        env = {**os.environ, "DATABASE_URL": info["database_url"], "REDIS_URL": info["redis_url"]}
        secret = Path(info["state_dir"]) / "secret_key"  # scripts/cluster's, unless SECRET_KEY
        if "SECRET_KEY" not in os.environ and secret.exists():
            env["SECRET_KEY"] = secret.read_text().strip()  # the signing keys are sealed with it
        self.env = env
        key = self.shell(CREATE_ADMIN_KEY, "KEY")
        self.base = f"http://{info['nodes'][0]['admin']}/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {key}"

    def shell(self, code: str, marker: str) -> str:
        """Run Django code on the cluster's database; return what it printed after `marker`."""
        output = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return next(line.split()[1] for line in output.splitlines() if line.startswith(marker))

    def __call__(self, method: str, path: str, body=None) -> dict:
        response = self.session.request(method, self.base + path, json=body, timeout=30)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else {}


class Scenario:
    """An API of our own on the cluster, and the changes made to it."""

    def __init__(self, admin: Admin, upstream_url: str, public_url: str):
        self.admin = admin
        for api in admin("GET", "/apis/?page_size=500").get("results", []):
            if api["base_path"] == BASE_PATH:
                if api["status"] == "active":
                    admin("POST", f"/apis/{api['id']}/deactivate/")
                admin("DELETE", f"/apis/{api['id']}/")
        server = admin(
            "POST",
            "/authorization-servers/",
            {
                "name": f"convergence-{time.time_ns()}",
                "kind": "internal",
                "issuer": f"{public_url}/convergence-{time.time_ns()}",
                "default_audience": "convergence",
            },
        )
        api = admin(
            "POST",
            "/apis/",
            {
                "name": f"convergence-{time.time_ns()}",
                "version": "v1",
                "base_path": BASE_PATH,
                "upstream_url": upstream_url,
            },
        )
        self.api = api["id"]
        admin(
            "PUT",
            f"/apis/{self.api}/policy/",
            {"authorization_servers": [server["id"]], "audiences": ["convergence"]},
        )
        self.toggle = admin(
            "POST", f"/apis/{self.api}/routes/", {"method": "GET", "path": "/t", "anonymous": True}
        )["id"]
        self.scoped = admin(
            "POST",
            f"/apis/{self.api}/routes/",
            {"method": "GET", "path": "/s", "required_scopes": ["convergence:read"]},
        )["id"]
        admin("POST", f"/apis/{self.api}/activate/")
        self.application = admin(
            "POST",
            "/applications/",
            {
                "name": f"convergence-{time.time_ns()}",
                "apis": [self.api],
                "allowed_scopes": ["convergence:read", "convergence:write"],
                "grant_types": ["client_credentials"],
            },
        )["id"]
        self.server = server["id"]
        self.token_code = ISSUE_TOKEN.format(application=self.application, server=server["id"])
        self.token = admin.shell(self.token_code, "TOKEN")
        self.added = 0

    def clean_up(self) -> None:
        for method, path in (
            ("POST", f"/apis/{self.api}/deactivate/"),
            ("DELETE", f"/applications/{self.application}/"),
            ("DELETE", f"/apis/{self.api}/"),
            ("DELETE", f"/authorization-servers/{self.server}/"),
        ):
            try:
                self.admin(method, path)
            except RuntimeError as error:
                print(f"clean-up: {error}", file=sys.stderr)

    def changes(self):
        """Endless (description, probe path, headers, new status, make the change) tuples."""
        for kind, path, expected, change in self._changes():
            headers = {"Authorization": f"Bearer {self.token}"} if path.endswith("/s") else {}
            yield kind, path, headers, expected, change

    def _changes(self):
        prefix = "/gateway" + BASE_PATH
        while True:
            self.added += 1
            path = f"/added-{self.added}"
            yield (
                "add a route",
                prefix + path,
                200,
                lambda path=path: self.admin(
                    "POST",
                    f"/apis/{self.api}/routes/",
                    {"method": "GET", "path": path, "anonymous": True},
                ),
            )
            route = f"/apis/{self.api}/routes/{self.toggle}/"
            yield (
                "route needs a token",
                prefix + "/t",
                401,
                lambda route=route: self.admin("PATCH", route, {"anonymous": False}),
            )
            yield (
                "route anonymous",
                prefix + "/t",
                200,
                lambda route=route: self.admin("PATCH", route, {"anonymous": True}),
            )
            scoped = f"/apis/{self.api}/routes/{self.scoped}/"
            yield (
                "route needs another scope",
                prefix + "/s",
                403,
                lambda scoped=scoped: self.admin(
                    "PATCH", scoped, {"required_scopes": ["convergence:write"]}
                ),
            )
            yield (
                "route needs the token's scope",
                prefix + "/s",
                200,
                lambda scoped=scoped: self.admin(
                    "PATCH", scoped, {"required_scopes": ["convergence:read"]}
                ),
            )
            application = f"/applications/{self.application}/"
            yield (
                "suspend application",
                prefix + "/s",
                403,
                lambda app=application: self.admin("PATCH", app, {"status": "suspended"}),
            )
            yield (
                "resume application",
                prefix + "/s",
                200,
                lambda app=application: self.admin("PATCH", app, {"status": "active"}),
            )
            yield (
                "deactivate API",
                prefix + "/t",
                404,
                lambda: self.admin("POST", f"/apis/{self.api}/deactivate/"),
            )
            yield (
                "activate API",
                prefix + "/t",
                200,
                lambda: self.admin("POST", f"/apis/{self.api}/activate/"),
            )
            kid = token_kid(self.token)
            yield (
                "revoke the token's signing key",
                prefix + "/s",
                401,
                lambda kid=kid: self.admin(
                    "POST",
                    f"/authorization-servers/{self.server}/revoke-key/",
                    {"kid": kid, "reason": "convergence benchmark"},
                ),
            )
            # Not timed: a token signed by the key that signs now, for the next changes.
            self.token = self.admin.shell(self.token_code, "TOKEN")


def token_kid(token: str) -> str:
    header = token.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def pin_workers(nodes: list[dict], per_node: int) -> dict[str, Pinned]:
    """{worker: a keep-alive connection it serves}, `per_node` workers on every node."""
    pinned: dict[str, Pinned] = {}
    for node in nodes:
        held: list[Pinned] = []  # held open, so the next connection goes to another worker
        mine = 0
        for _ in range(100 * per_node):
            connection = Pinned(node["public"])
            _, worker = connection.probe("/gateway/none")
            connection.worker = worker
            if worker and worker not in pinned:
                pinned[worker] = connection
                mine += 1
            else:
                held.append(connection)
            if mine >= per_node:
                break
        for connection in held:
            connection.close()
        if mine < per_node:
            raise RuntimeError(f"found {mine} of {per_node} workers on {node['public']}")
    return pinned


class Announcements:
    """Hears the cluster's config announcements (core/config_bus.py channel) and stamps
    each, so a change's time splits into the writer's part (commit to announcement: the
    compile and the publish) and the workers' part (announcement to new answers)."""

    def __init__(self, redis_url: str) -> None:
        import re

        import redis

        database = re.search(r"/(\d+)/?$", redis_url)
        self.pubsub = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(f"gatekeep:config:db{database.group(1) if database else 0}")
        self.heard: list[float] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._listen, daemon=True).start()

    def _listen(self) -> None:
        for message in self.pubsub.listen():
            if message["type"] == "message":
                with self.lock:
                    self.heard.append(time.monotonic())

    def first_after(self, moment: float) -> float | None:
        with self.lock:
            return next((at for at in self.heard if at >= moment), None)


def measure(
    pinned: dict[str, Pinned], path: str, headers: dict, expected: int, change, timeout, interval
):
    """Make the change, then probe every worker until it answers `expected`.
    Returns ({worker: seconds}, stale answers after a worker's first new one, probes,
    seconds the admin call took, the moment it was made)."""
    called = time.monotonic()
    change()
    started = time.monotonic()
    converged: dict[str, float] = {}
    stale_after_new = 0
    probes = 0
    lock = threading.Lock()

    def run(worker: str, connection: Pinned) -> None:
        nonlocal stale_after_new, probes
        seen_new = False
        due = started
        while time.monotonic() - started < timeout:
            # Paced: probing flat out would load the machine the workers run on.
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))
            status, answered_by = connection.probe(path, headers)
            at = time.monotonic() - started
            if answered_by != worker:
                raise RuntimeError(f"{worker}'s connection was answered by {answered_by}")
            with lock:
                probes += 1
                if status == expected:
                    if not seen_new:
                        converged[worker] = at
                    seen_new = True
                elif seen_new:
                    stale_after_new += 1
            # A few probes past the first new answer show whether it goes back.
            if seen_new and at - converged[worker] > 0.02:
                return

    threads = [threading.Thread(target=run, args=item) for item in pinned.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    missing = pinned.keys() - converged.keys()
    if missing:
        raise RuntimeError(f"{len(missing)} workers never answered {expected} on {path}")
    return converged, stale_after_new, probes, started - called, called


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_once(info: dict, changes: int, settle: float, interval: float) -> dict:
    upstream = Upstream()
    admin = Admin(info)
    scenario = Scenario(admin, upstream.url, f"http://{info['nodes'][0]['public']}")
    nodes = info["nodes"]
    pinned = pin_workers(nodes, info.get("workers", 2))
    # Every worker serves the new API before the first change.
    first = "/gateway" + BASE_PATH + "/t"
    measure(pinned, first, {}, 200, lambda: None, 30, interval)
    token = {"Authorization": f"Bearer {scenario.token}"}
    measure(pinned, first[:-2] + "/s", token, 200, lambda: None, 30, interval)
    compiled_before = compile_count(info)
    announcements = Announcements(info["redis_url"])
    announced_after: list[float] = []
    per_worker: list[float] = []
    per_change: list[float] = []
    admin_calls: list[float] = []
    by_kind: dict[str, list[float]] = {}
    stale = probes = 0
    for _, (kind, path, headers, expected, change) in zip(
        range(changes), scenario.changes(), strict=False
    ):
        time.sleep(settle)
        converged, stale_here, probes_here, admin_call, called = measure(
            pinned, path, headers, expected, change, 30, interval
        )
        heard = announcements.first_after(called)
        if heard is not None:  # a key revocation is not a config version
            announced_after.append(heard - called - admin_call)
        admin_calls.append(admin_call)
        per_worker.extend(converged.values())
        per_change.append(max(converged.values()))
        by_kind.setdefault(kind, []).append(max(converged.values()))
        stale += stale_here
        probes += probes_here
    compiled = compile_count(info) - compiled_before
    scenario.clean_up()
    upstream.server.shutdown()
    for connection in pinned.values():
        connection.close()
    count = len(pinned)
    return {
        "nodes": len(nodes),
        "workers": count,
        "changes": changes,
        "worker_p50_ms": round(statistics.median(per_worker) * 1000, 1),
        "worker_p99_ms": round(percentile(per_worker, 0.99) * 1000, 1),
        "worker_max_ms": round(max(per_worker) * 1000, 1),
        "change_p50_ms": round(statistics.median(per_change) * 1000, 1),
        "change_max_ms": round(max(per_change) * 1000, 1),
        "by_change_max_ms": {k: round(max(v) * 1000, 1) for k, v in by_kind.items()},
        "stale_after_new": stale,
        "resolution_ms": round(sum(per_change) / max(1, probes) * count * 1000, 2),
        "admin_call_p50_ms": round(statistics.median(admin_calls) * 1000, 1),
        "admin_call_max_ms": round(max(admin_calls) * 1000, 1),
        "announced_p50_ms": round(statistics.median(announced_after or [0]) * 1000, 1),
        "announced_max_ms": round(max(announced_after or [0]) * 1000, 1),
        "compiles": compiled,  # one per change: the writer compiles, every worker loads
    }


def compile_count(info: dict) -> int:
    """gatekeep:config:compiles in the cluster's Redis (core/config_bus.py counts them)."""
    import redis

    value = redis.Redis.from_url(info["redis_url"]).get("gatekeep:config:compiles")
    return int(value or 0)


@contextlib.contextmanager
def started_cluster(nodes: int, workers: int, announcements: bool = True):
    state = Path(tempfile.mkdtemp(prefix="gatekeep-convergence-"))
    env = {**os.environ, "GATEWAY_CONFIG_ANNOUNCEMENTS": "true" if announcements else "false"}
    process = subprocess.Popen(
        [
            *(sys.executable, str(ROOT / "scripts/cluster.py"), "--nodes", str(nodes)),
            *("--workers", str(workers), "--state-dir", str(state), "--base-port", "19000"),
        ],
        cwd=ROOT,
        env=env,
        stdout=(state / "supervisor.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while not (state / "ready").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((state / "supervisor.log").read_text())
            time.sleep(0.2)
        yield json.loads((state / "cluster.json").read_text())
    finally:
        subprocess.run(
            [sys.executable, str(ROOT / "scripts/cluster.py"), "stop", "--state-dir", str(state)],
            check=False,
        )
        process.wait(60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", default=str(ROOT / ".cluster"))
    parser.add_argument("--start", type=int, metavar="NODES", help="start its own cluster")
    parser.add_argument("--workers", type=int, default=2, help="with --start")
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--settle", type=float, default=0.3, help="seconds between changes")
    parser.add_argument(
        "--interval", type=float, default=5, help="ms between two probes of one worker"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--no-announcements",
        action="store_true",
        help="with --start: workers only poll (GATEWAY_CONFIG_ANNOUNCEMENTS=false)",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.start:
            info = stack.enter_context(
                started_cluster(args.start, args.workers, not args.no_announcements)
            )
        else:
            info = json.loads((Path(args.state_dir) / "cluster.json").read_text())
        results = []
        for run in range(args.runs):
            result = run_once(info, args.changes, args.settle, args.interval / 1000)
            results.append(result)
            if args.json:
                print(json.dumps(result), flush=True)
            else:
                print(
                    f"run {run + 1}: {result['nodes']} nodes, {result['workers']} workers, "
                    f"{result['changes']} changes; per worker p50 {result['worker_p50_ms']} ms, "
                    f"p99 {result['worker_p99_ms']} ms, max {result['worker_max_ms']} ms; "
                    f"last worker per change p50 {result['change_p50_ms']} ms, "
                    f"max {result['change_max_ms']} ms; stale after new "
                    f"{result['stale_after_new']}; resolution ~{result['resolution_ms']} ms; "
                    f"admin call p50 {result['admin_call_p50_ms']} ms; announced after "
                    f"p50 {result['announced_p50_ms']} ms, max {result['announced_max_ms']} ms; "
                    f"compiles {result['compiles']}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
