"""How long a config change takes to reach every data-plane worker of every node.

    bench/convergence                        # against a running scripts/cluster (.cluster/)
    bench/convergence --start 3 --runs 3     # start a 3-node cluster, 3 runs, stop it
    bench/convergence --changes 40 --json

Each change is made through one node's admin API (node 1); the clock starts when that call
has answered. Then one thread per node opens a fresh connection for every probe, straight
to the node's public listener (not through nginx), and reads which worker answered from
the X-Request-Id prefix (20 hex characters per worker). A worker has converged at its first
answer that matches the new config; the change has converged when every worker of every
node has (the worker set is learned before the first change). Reported: per-worker
convergence times over all changes (p50, p99, max) and the per-change time until the last
worker (p50, max). The sampling resolution is the time between two probes reaching the
same worker (printed as `resolution`).

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


def probe(address: str, path: str, headers: dict | None = None) -> tuple[int, str]:
    """(status, worker) over a fresh connection; the worker is the request id's prefix."""
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", path, headers={"Connection": "close", **(headers or {})})
        response = connection.getresponse()
        response.read()
        return response.status, (response.getheader("X-Request-Id") or "")[:20]
    finally:
        connection.close()


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


def learn_workers(nodes: list[dict], per_node: int) -> dict[str, set[str]]:
    found = {}
    for node in nodes:
        seen: set[str] = set()
        for _ in range(200 * per_node):
            seen.add(probe(node["public"], "/gateway/none")[1])
            if len(seen) >= per_node:
                break
        found[node["public"]] = seen
    return found


def measure(
    nodes: list[dict], workers: dict, path: str, headers: dict, expected: int, change, timeout
):
    """Make the change, then probe until every worker answers `expected`.
    Returns ({worker: seconds}, stale answers after a worker's first new one, probes,
    seconds the admin call took: it includes the writer's compile of the snapshot)."""
    called = time.monotonic()
    change()
    started = time.monotonic()
    converged: dict[str, float] = {}
    stale_after_new = 0
    probes = 0
    lock = threading.Lock()
    everyone = {w for ws in workers.values() for w in ws}

    def run(address: str) -> None:
        nonlocal stale_after_new, probes
        mine = workers[address]
        while time.monotonic() - started < timeout:
            with lock:
                if mine <= converged.keys():
                    return
            status, worker = probe(address, path, headers)
            at = time.monotonic() - started
            with lock:
                probes += 1
                if worker not in everyone:  # a restarted worker: count it from now on
                    everyone.add(worker)
                    mine.add(worker)
                if status == expected:
                    converged.setdefault(worker, at)
                elif worker in converged:
                    stale_after_new += 1

    threads = [threading.Thread(target=run, args=(node["public"],)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    missing = everyone - converged.keys()
    if missing:
        raise RuntimeError(f"{len(missing)} workers never answered {expected} on {path}")
    return converged, stale_after_new, probes, started - called


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run_once(info: dict, changes: int, settle: float) -> dict:
    upstream = Upstream()
    admin = Admin(info)
    scenario = Scenario(admin, upstream.url, f"http://{info['nodes'][0]['public']}")
    nodes = info["nodes"]
    workers = learn_workers(nodes, info.get("workers", 2))
    # Every worker serves the new API before the first change.
    first = "/gateway" + BASE_PATH + "/t"
    measure(nodes, workers, first, {}, 200, lambda: None, 30)
    token = {"Authorization": f"Bearer {scenario.token}"}
    measure(nodes, workers, first[:-2] + "/s", token, 200, lambda: None, 30)
    compiled_before = compile_count(info)
    per_worker: list[float] = []
    per_change: list[float] = []
    admin_calls: list[float] = []
    by_kind: dict[str, list[float]] = {}
    stale = probes = 0
    for _, (kind, path, headers, expected, change) in zip(
        range(changes), scenario.changes(), strict=False
    ):
        time.sleep(settle)
        converged, stale_here, probes_here, admin_call = measure(
            nodes, workers, path, headers, expected, change, 30
        )
        admin_calls.append(admin_call)
        per_worker.extend(converged.values())
        per_change.append(max(converged.values()))
        by_kind.setdefault(kind, []).append(max(converged.values()))
        stale += stale_here
        probes += probes_here
    compiled = compile_count(info) - compiled_before
    scenario.clean_up()
    upstream.server.shutdown()
    count = sum(len(w) for w in workers.values())
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
            result = run_once(info, args.changes, args.settle)
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
                    f"admin call p50 {result['admin_call_p50_ms']} ms; "
                    f"compiles {result['compiles']}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
