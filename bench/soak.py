"""Soak: mixed valid and hostile traffic against both planes while keys rotate and an API flaps.

    bench/soak [--seconds 60] [--clients 8] [--workers 2] [--threads 8] [--json]

Everything runs on loopback: a throwaway SQLite database, a private redis-server
(the shared cache every gunicorn worker and this process use), an identity
provider whose keys rotate, a counting upstream, and `manage.py serve` (both planes).
While client threads send a weighted mix of calls, a chaos thread

  * rotates the signing key the way Celery beat and a well-behaved IdP do: the
    next key is published and refreshed first, tokens are signed with it only
    once every worker has it, and the old key is then removed (its tokens must
    turn 401);
  * deactivates and reactivates an API (its calls must turn 404 and back).

Every response is checked against the decision the gateway must take; calls in
the short windows while a change propagates (the poll intervals) are not sent.
The run fails (exit 1) on any 5xx, wrong decision or transport error, or when a
worker's RSS grows by 20 MB or more.
"""

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.production import ProductionGateway, free_port, launch  # noqa: E402
from tests.servers import LoopbackServer, QuietHandler  # noqa: E402

RSS_LIMIT_MB = 20
KEYS_POLL_SECONDS = 1.0
CONFIG_POLL_SECONDS = 0.5
KID_REFRESH_INTERVAL = 2.0
SETTLE_SECONDS = 1.5  # margin after a poll interval before a change counts as everywhere


# --- loopback services -------------------------------------------------------------------


class _Upstream(QuietHandler):
    """Answers at once and keeps nothing but a count: a soak sends millions of requests."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.owner.count_hit()
        body = json.dumps({"path": self.path, "app": self.headers.get("X-Gateway-Application")})
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer


def start_redis(workdir: Path) -> tuple[subprocess.Popen | None, str]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        url = os.environ.get("REDIS_URL")
        if not url:
            sys.exit("bench/soak needs redis-server (or REDIS_URL) for the shared cache")
        return None, url
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit("redis-server did not start")


def start_gateway(env: dict, workers: int, threads: int) -> ProductionGateway:
    """Both planes through the production command, `manage.py serve`."""
    try:
        return launch({**env, "GATEWAY_GRACEFUL_TIMEOUT": "5"}, workers, threads, timeout=60)
    except AssertionError as failure:
        sys.exit(f"the gateway did not start: {failure}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- the world the traffic is checked against -----------------------------------------------


@dataclass
class World:
    """What the gateway must currently decide; changed only by the chaos thread."""

    signing_key: object
    revoked_keys: list = field(default_factory=list)  # removed from the IdP and settled
    toggle_active: bool = True
    toggle_settled: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)
    rotations: int = 0
    toggles: int = 0


class Soak:
    def __init__(self, args):
        self.args = args
        self.results = Counter()
        self.wrong: list[str] = []
        self.errors: list[str] = []
        self.latencies: list[float] = []
        self.stop = threading.Event()

    # setup ---------------------------------------------------------------------------

    def setup(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="gatekeep-soak-"))
        self.redis, redis_url = start_redis(self.workdir)
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.workdir / 'soak.sqlite3'}",
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": f"soak-{uuid.uuid4().hex[:8]}",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "DEBUG": "false",
            "LOG_LEVEL": "ERROR",
            "GATEWAY_KEYS_POLL_SECONDS": str(KEYS_POLL_SECONDS),
            "GATEWAY_CONFIG_POLL_SECONDS": str(CONFIG_POLL_SECONDS),
            "GATEWAY_KID_REFRESH_INTERVAL": str(KID_REFRESH_INTERVAL),
            "DJANGO_SETTINGS_MODULE": "gateway_admin.settings",
        }
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        self.env = env
        self._publish()
        self.gunicorn = start_gateway(env, self.args.workers, self.args.threads)
        self.base = f"http://127.0.0.1:{self.gunicorn.port}/gateway"

    def _publish(self) -> None:
        from apis.models import Api, IdentifyAndAuthorizePolicy, Route
        from apis.services import activate_api
        from applications.models import Application
        from authservers.models import AuthorizationServer
        from tests.servers import JwksServer
        from tests.tokens import new_rsa_key

        self.upstream = LoopbackServer(_Upstream)
        self.idp = JwksServer()
        first = new_rsa_key(f"soak-{uuid.uuid4().hex[:6]}")
        self.idp.keys = [first]
        self.world = World(signing_key=first)
        self.server = AuthorizationServer.objects.create(
            name="Soak IdP", kind="external", issuer=self.idp.issuer
        )
        application = Application.objects.create(
            name="Soak client", identifying_claims={"client_id": "soak-client"}
        )
        self.apis = {}
        for base_path in ("/soak/v1", "/toggle/v1"):
            api = Api.objects.create(
                name=base_path.strip("/").split("/")[0],
                version="v1",
                base_path=base_path,
                upstream_url=f"{self.upstream.url}/backend",
                read_timeout=10,
                connect_timeout=2,
            )
            Route.objects.create(
                api=api, method="GET", path="/items", required_scopes=["items:read"]
            )
            Route.objects.create(
                api=api, method="POST", path="/items", required_scopes=["items:write"]
            )
            Route.objects.create(api=api, method="GET", path="/public", anonymous=True)
            policy = IdentifyAndAuthorizePolicy.objects.create(
                api=api, audiences=["soak"], forward_claims={"email": "X-User-Email"}
            )
            policy.authorization_servers.add(self.server)
            application.apis.add(api)
            problems = activate_api(api)
            assert problems == [], problems
            self.apis[base_path] = api

    # tokens ----------------------------------------------------------------------------

    def token(self, key=None, **claims) -> str:
        from tests.tokens import claims_for, sign

        defaults = {"aud": "soak", "client_id": "soak-client", "scope": "items:read items:write"}
        return sign(
            key or self.world.signing_key, claims_for(self.idp.issuer, **{**defaults, **claims})
        )

    # chaos -------------------------------------------------------------------------------

    def chaos(self) -> None:
        from apis.services import activate_api, deactivate_api
        from authservers.services import refresh_jwks
        from tests.tokens import new_rsa_key

        next_rotation = time.monotonic() + self.args.rotate_every
        next_toggle = time.monotonic() + self.args.toggle_every
        while not self.stop.wait(0.1):
            now = time.monotonic()
            if now >= next_rotation:
                current = self.world.signing_key
                upcoming = new_rsa_key(f"soak-{uuid.uuid4().hex[:6]}")
                self.idp.keys = [current, upcoming]  # publish first, as beat would fetch it
                refresh_jwks(self.server)
                self.stop.wait(KEYS_POLL_SECONDS + SETTLE_SECONDS)
                with self.world.lock:
                    self.world.signing_key = upcoming
                self.idp.keys = [upcoming]  # the old key leaves the IdP's key set
                refresh_jwks(self.server)
                self.stop.wait(KEYS_POLL_SECONDS + SETTLE_SECONDS)
                with self.world.lock:
                    self.world.revoked_keys = [*self.world.revoked_keys[-2:], current]
                    self.world.rotations += 1
                next_rotation = time.monotonic() + self.args.rotate_every
            if now >= next_toggle:
                api = self.apis["/toggle/v1"]
                with self.world.lock:
                    self.world.toggle_settled = False
                if self.world.toggle_active:
                    deactivate_api(api)
                else:
                    activate_api(api)
                self.stop.wait(CONFIG_POLL_SECONDS + SETTLE_SECONDS)
                with self.world.lock:
                    self.world.toggle_active = not self.world.toggle_active
                    self.world.toggle_settled = True
                    self.world.toggles += 1
                next_toggle = time.monotonic() + self.args.toggle_every

    # traffic -----------------------------------------------------------------------------

    def scenario(self, rng: random.Random, pools: dict):
        """(name, method, path, headers, body, expected status, expected code)."""
        world = self.world
        with world.lock:
            key, revoked = world.signing_key, list(world.revoked_keys)
            toggle_active, toggle_settled = world.toggle_active, world.toggle_settled
        pool = pools.setdefault(key.get("kid"), [])
        if len(pool) < 20 or rng.random() < 0.03:
            pool.append(self.token(key, sub=f"user-{rng.randrange(10**6)}"))
        good = rng.choice(pool)
        bearer = {"Authorization": f"Bearer {good}"}
        choice = rng.random()
        if choice < 0.40:
            return "valid-get", "GET", "/soak/v1/items", bearer, None, 200, None
        if choice < 0.47:
            return "valid-post", "POST", "/soak/v1/items", bearer, b'{"n": 1}', 200, None
        if choice < 0.52:
            return "anonymous", "GET", "/soak/v1/public", {}, None, 200, None
        if choice < 0.60:
            if not toggle_settled:
                return "valid-get", "GET", "/soak/v1/items", bearer, None, 200, None
            if toggle_active:
                return "toggled-on", "GET", "/toggle/v1/items", bearer, None, 200, None
            return "toggled-off", "GET", "/toggle/v1/items", bearer, None, 404, "api_not_found"
        if choice < 0.64:
            return "missing-token", "GET", "/soak/v1/items", {}, None, 401, "missing_token"
        if choice < 0.68:
            header, payload, signature = good.split(".")
            forged = f"{header}.{payload}.{signature[:-8]}AAAAAAAA"
            return (
                "bad-signature",
                "GET",
                "/soak/v1/items",
                _bearer(forged),
                None,
                401,
                "invalid_token",
            )
        if choice < 0.72:
            token = self.token(key, exp=int(time.time()) - 600)
            return "expired", "GET", "/soak/v1/items", _bearer(token), None, 401, "invalid_token"
        if choice < 0.75:
            token = self.token(key, aud="someone-else")
            return (
                "wrong-audience",
                "GET",
                "/soak/v1/items",
                _bearer(token),
                None,
                401,
                "invalid_token",
            )
        if choice < 0.78:
            from tests.tokens import raw_token

            token = raw_token({"alg": "none", "kid": key.get("kid")}, {"iss": self.idp.issuer})
            return "alg-none", "GET", "/soak/v1/items", _bearer(token), None, 401, "invalid_token"
        if choice < 0.82:
            from tests.tokens import raw_token

            token = raw_token(
                {"alg": "RS256", "kid": uuid.uuid4().hex},
                {"iss": self.idp.issuer, "aud": "soak", "exp": int(time.time()) + 60},
                os.urandom(256),
            )
            return "random-kid", "GET", "/soak/v1/items", _bearer(token), None, 401, "invalid_token"
        if choice < 0.86:
            token = self.token(key, scope="other")
            return (
                "no-scope",
                "GET",
                "/soak/v1/items",
                _bearer(token),
                None,
                403,
                "insufficient_scope",
            )
        if choice < 0.89:
            token = self.token(key, client_id="stranger")
            return (
                "no-application",
                "GET",
                "/soak/v1/items",
                _bearer(token),
                None,
                403,
                "application_not_authorized",
            )
        if choice < 0.92:
            return "no-route", "GET", "/soak/v1/nothing", bearer, None, 404, "route_not_found"
        if choice < 0.94:
            return (
                "wrong-method",
                "DELETE",
                "/soak/v1/items",
                bearer,
                None,
                405,
                "method_not_allowed",
            )
        if choice < 0.97 and revoked:
            token = self.token(rng.choice(revoked))
            return (
                "revoked-key",
                "GET",
                "/soak/v1/items",
                _bearer(token),
                None,
                401,
                "invalid_token",
            )
        return (
            "garbage",
            "GET",
            "/soak/v1/items",
            _bearer("x" * rng.randrange(1, 300)),
            None,
            401,
            "invalid_token",
        )

    def client(self, seed: int) -> None:
        import requests

        rng = random.Random(seed)
        session = requests.Session()
        pools: dict = {}
        while not self.stop.is_set():
            name, method, path, headers, body, status, code = self.scenario(rng, pools)
            started = time.monotonic()
            try:
                response = session.request(
                    method, self.base + path, headers=headers, data=body, timeout=15
                )
            except requests.RequestException as exc:
                self.errors.append(f"{name}: {exc!r}"[:300])
                continue
            self.latencies.append(time.monotonic() - started)
            self.results[name] += 1
            if response.status_code >= 500:
                self.results["5xx"] += 1
            got_code = None
            if response.status_code != 200:
                try:
                    got_code = response.json().get("code")
                except ValueError:
                    got_code = "<not json>"
            elif not response.json().get("path", "").startswith("/backend/"):
                got_code = "<not from the upstream>"
            if response.status_code != status or got_code != code:
                self.wrong.append(
                    f"{name} {method} {path}: expected {status} {code}, got "
                    f"{response.status_code} {got_code}: {response.text[:200]}"
                )

    # run ---------------------------------------------------------------------------------

    def run(self) -> dict:
        self.setup()
        try:
            return self._run()
        finally:
            self.stop.set()
            self.gunicorn.stop()
            self.idp.stop()
            self.upstream.stop()
            if self.redis is not None:
                self.redis.terminate()
                self.redis.wait(10)
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _run(self) -> dict:
        import requests

        # Warm up: every worker builds its config and loads keys before the baseline.
        warm = self.token()
        for _ in range(20 * self.args.workers):
            requests.get(
                f"{self.base}/soak/v1/items",
                headers={"Authorization": f"Bearer {warm}"},
                timeout=10,
            ).raise_for_status()
        clients = [
            threading.Thread(target=self.client, args=(seed,), daemon=True)
            for seed in range(self.args.clients)
        ]
        for thread in clients:
            thread.start()
        time.sleep(min(3.0, self.args.seconds / 5))
        pids = self.gunicorn.worker_pids()
        baseline = {pid: rss_mb(pid) for pid in pids}
        peak = dict(baseline)
        chaos = threading.Thread(target=self.chaos, daemon=True)
        chaos.start()
        idp_hits_before = self.idp.hits
        started = time.monotonic()
        while time.monotonic() - started < self.args.seconds:
            time.sleep(1)
            for pid in pids:
                try:
                    peak[pid] = max(peak[pid], rss_mb(pid))
                except OSError:
                    self.errors.append(f"worker {pid} disappeared")
        self.stop.set()
        for thread in [*clients, chaos]:
            thread.join(20)
        elapsed = time.monotonic() - started
        final = {pid: rss_mb(pid) for pid in pids if Path(f"/proc/{pid}").exists()}
        growth = max((peak[pid] - baseline[pid] for pid in pids), default=0.0)
        total = sum(count for name, count in self.results.items() if name != "5xx")
        latencies = sorted(self.latencies) or [0.0]
        summary = {
            "seconds": round(elapsed, 1),
            "requests": total,
            "requests_per_second": round(total / elapsed, 1),
            "5xx": self.results["5xx"],
            "wrong_decisions": len(self.wrong),
            "transport_errors": len(self.errors),
            "by_scenario": {k: v for k, v in sorted(self.results.items()) if k != "5xx"},
            "key_rotations": self.world.rotations,
            "api_toggles": self.world.toggles,
            "idp_jwks_fetches": self.idp.hits - idp_hits_before,
            "upstream_hits": self.upstream.hits,
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
            "worker_rss_mb": {
                str(pid): {
                    "baseline": round(baseline[pid], 1),
                    "peak": round(peak[pid], 1),
                    "final": round(final.get(pid, 0.0), 1),
                }
                for pid in pids
            },
            "worker_rss_growth_mb": round(growth, 1),
            "examples": (self.wrong + self.errors)[:10],
        }
        # Random kids may cause one fetch per KID_REFRESH_INTERVAL across all workers (a
        # cache lock); each rotation adds the two refreshes this process makes as beat.
        summary["idp_fetch_budget"] = (
            int(elapsed / KID_REFRESH_INTERVAL) + 2 * (self.world.rotations + 1) + 1
        )
        summary["ok"] = (
            total > 0
            and summary["5xx"] == 0
            and not self.wrong
            and not self.errors
            and growth < RSS_LIMIT_MB
            and summary["idp_jwks_fetches"] <= summary["idp_fetch_budget"]
        )
        return summary


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rotate-every", type=float, default=10)
    parser.add_argument("--toggle-every", type=float, default=6)
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    args = parser.parse_args()
    summary = Soak(args).run()
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"Soak {summary['seconds']} s: {summary['requests']} requests "
            f"({summary['requests_per_second']}/s), p50 {summary['p50_ms']} ms, "
            f"p99 {summary['p99_ms']} ms"
        )
        print(
            f"  5xx: {summary['5xx']}, wrong decisions: {summary['wrong_decisions']}, "
            f"transport errors: {summary['transport_errors']}"
        )
        print(
            f"  key rotations: {summary['key_rotations']}, API toggles: {summary['api_toggles']}, "
            f"IdP JWKS fetches: {summary['idp_jwks_fetches']} "
            f"(budget {summary['idp_fetch_budget']})"
        )
        print(
            f"  worker RSS growth: {summary['worker_rss_growth_mb']} MB "
            f"(limit {RSS_LIMIT_MB} MB) {summary['worker_rss_mb']}"
        )
        for name, count in summary["by_scenario"].items():
            print(f"    {name:16} {count}")
        for example in summary["examples"]:
            print(f"  ! {example}")
        print("PASS" if summary["ok"] else "FAIL")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
