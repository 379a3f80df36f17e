"""Failover soak: an API balanced over three targets, one killed mid-run and restarted.

    bench/failover [--seconds 30] [--clients 8] [--workers 2] [--json]

Everything runs on loopback: a throwaway SQLite database, `manage.py serve` (both
planes, the data plane's production workers), and three upstream processes. Client
threads send a mix of calls (valid tokens, no token, a token lacking the scope)
and check each answer against the decision the gateway must take. At 30 % of the
run one target is SIGKILLed (in-flight and pooled connections die with it); at
60 % it is restarted on the same port. The run passes when

  * at most 0.1 % of the calls fail during the ejection window (the kill and the
    2 s after it), and none after it, restart included;
  * no decision is wrong (a 401/403 where a 200 was due, or the other way round);
  * the restarted target gets calls again (active health checks brought it back).
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
EJECTION_WINDOW_SECONDS = 2.0
MAX_FAILURE_RATE = 0.001


# --- the upstream processes --------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits = 0

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/count":
            body = str(_Handler.hits).encode()
        else:
            if self.path != "/healthz":
                _Handler.hits += 1
            body = json.dumps({"port": self.server.server_address[1]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    server.serve_forever(poll_interval=0.05)


class Backend:
    """One upstream target in its own process, so a kill is a real kill."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "--serve", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/count", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError(f"upstream on {self.port} did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def hits(self) -> int:
        try:
            return int(requests.get(self.url + "/count", timeout=2).text)
        except requests.RequestException:
            return -1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


# --- the soak ------------------------------------------------------------------------------


def run_soak(
    url: str,
    good_token: str,
    scopeless_token: str,
    backends: list[Backend],
    seconds: float,
    clients: int,
) -> dict:
    """Drive `url` (a GET route needing a scope) and kill/restart backends[1] on the way."""
    victim = backends[1]
    outcomes: list[tuple[float, str, str]] = []  # (time, expected, outcome)
    lock = threading.Lock()
    start = time.monotonic()
    stop_at = start + seconds
    events: dict[str, float] = {}

    def client(seed: int) -> None:
        session = requests.Session()
        rng = random.Random(seed)
        local = []
        while time.monotonic() < stop_at:
            roll = rng.random()
            if roll < 0.9:
                expected, headers = "200", {"Authorization": f"Bearer {good_token}"}
            elif roll < 0.95:
                expected, headers = "401", {}
            else:
                expected, headers = "403", {"Authorization": f"Bearer {scopeless_token}"}
            try:
                response = session.get(url, headers=headers, timeout=10)
                outcome = str(response.status_code)
            except requests.RequestException as exc:
                outcome = f"transport: {type(exc).__name__}"
            local.append((time.monotonic() - start, expected, outcome))
        with lock:
            outcomes.extend(local)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(seconds * 0.3)
    events["killed"] = time.monotonic() - start
    victim.kill()
    time.sleep(seconds * 0.3)
    events["restarted"] = time.monotonic() - start
    victim.start()
    for thread in threads:
        thread.join()
    victim_hits_after_restart = victim.hits()
    return summarize(outcomes, events, victim_hits_after_restart, seconds)


def summarize(outcomes, events, victim_hits_after_restart: int, seconds: float) -> dict:
    window = (events["killed"], events["killed"] + EJECTION_WINDOW_SECONDS)
    phases = {"before": Counter(), "ejection": Counter(), "after": Counter()}
    wrong, failures = Counter(), Counter()
    examples = []
    for at, expected, outcome in outcomes:
        phase = "before" if at < window[0] else "ejection" if at < window[1] else "after"
        phases[phase]["calls"] += 1
        if outcome == expected:
            continue
        if expected == "200" and (outcome.startswith("transport") or outcome.startswith("5")):
            failures[phase] += 1
        else:
            wrong[phase] += 1
        if len(examples) < 5:
            examples.append(f"{at:.2f}s expected {expected}, got {outcome}")
    ejection_calls = phases["ejection"]["calls"] or 1
    summary = {
        "seconds": seconds,
        "calls": len(outcomes),
        "calls_per_second": round(len(outcomes) / seconds),
        "killed_at_s": round(events["killed"], 2),
        "restarted_at_s": round(events["restarted"], 2),
        "calls_by_phase": {name: counter["calls"] for name, counter in phases.items()},
        "failures_by_phase": dict(failures),
        "failure_rate_during_ejection": round(failures["ejection"] / ejection_calls, 5),
        "wrong_decisions": sum(wrong.values()),
        "restarted_target_calls": victim_hits_after_restart,
        "examples": examples,
    }
    summary["ok"] = (
        summary["failure_rate_during_ejection"] <= MAX_FAILURE_RATE
        and failures["before"] == 0
        and failures["after"] == 0
        and summary["wrong_decisions"] == 0
        and victim_hits_after_restart > 0
    )
    return summary


# --- the command: a production gateway on a throwaway database ----------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="gatekeep-failover-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/db.sqlite3"
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from tests.production import free_port, launch

    backends = [Backend(free_port()) for _ in range(3)]
    gateway = None
    try:
        good, scopeless = _world(workdir, backends)
        gateway = launch(
            {
                **os.environ,
                "DEBUG": "false",
                "SECRET_KEY": "failover-" + "x" * 50,
                "ALLOWED_HOSTS": "*",
                "LOG_LEVEL": "WARNING",
                "GATEWAY_STATE_DIR": str(workdir),
            },
            args.workers,
            2,
            timeout=60,
        )
        url = f"{gateway.url}/gateway/failover/v1/items"
        for _ in range(50):  # every worker loads its config and starts its health checks
            requests.get(url, headers={"Authorization": f"Bearer {good}"}, timeout=5)
        summary = run_soak(url, good, scopeless, backends, args.seconds, args.clients)
    finally:
        if gateway is not None:
            gateway.stop()
        for backend in backends:
            backend.stop()
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"Failover soak {summary['seconds']} s, {summary['calls']} calls "
            f"({summary['calls_per_second']}/s); target killed at {summary['killed_at_s']} s, "
            f"restarted at {summary['restarted_at_s']} s"
        )
        print(f"  calls by phase: {summary['calls_by_phase']}")
        print(
            f"  failures: {summary['failures_by_phase'] or 'none'}; during ejection "
            f"{summary['failure_rate_during_ejection'] * 100:.3f} % (limit 0.1 %)"
        )
        print(f"  wrong decisions: {summary['wrong_decisions']}")
        print(f"  calls to the restarted target: {summary['restarted_target_calls']}")
        for example in summary["examples"]:
            print(f"  ! {example}")
        print("PASS" if summary["ok"] else "FAIL")
    return 0 if summary["ok"] else 1


def _world(workdir: Path, backends: list[Backend]) -> tuple[str, str]:
    """The issuer, the API balanced over `backends`, and two tokens (good, scopeless)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")
    django.setup()
    from django.core.management import call_command
    from jwcrypto import jwk
    from seed import ISSUER, make_tokens

    from apis.models import Api, IdentifyAndAuthorizePolicy, Route
    from apis.services import activate_api
    from applications.models import Application
    from authservers.models import AuthorizationServer
    from authservers.services import refresh_jwks
    from policies.models import LoadBalancing, UpstreamTarget
    from policies.services import save_policy
    from tests.tokens import certificate_pem

    call_command("migrate", verbosity=0)
    key = jwk.JWK.generate(kty="RSA", size=2048)
    server = AuthorizationServer.objects.create(
        name="failover-idp",
        issuer=ISSUER,
        public_certificate=certificate_pem(key, "failover-idp").decode(),
    )
    api = Api.objects.create(
        name="Failover",
        base_path="/failover/v1",
        upstream_url=backends[0].url,
        connect_timeout=1.0,
        read_timeout=5.0,
    )
    Route.objects.create(api=api, method="GET", path="/items", required_scopes=["bench:read"])
    policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["bench"])
    policy.authorization_servers.add(server)
    app = Application.objects.create(name="bench", identifying_claims={"client_id": "bench-client"})
    app.apis.add(api)
    for backend in backends:
        save_policy(UpstreamTarget(api=api, url=backend.url))
    save_policy(
        LoadBalancing(
            api=api,
            health_check_path="/healthz",
            health_check_interval=0.5,
            health_check_timeout=0.5,
            healthy_threshold=2,
            unhealthy_threshold=1,
            passive_failures=1,
            retry=True,
        )
    )
    assert activate_api(api) == []
    refresh_jwks(server)
    kid = server.jwks_snapshot.keys[0]["kid"]
    pem = key.export_to_pem(private_key=True, password=None)
    good = make_tokens(pem, kid, ["soak-user"])[0]
    scopeless = _scopeless_token(pem, kid)
    return good, scopeless


def _scopeless_token(pem: bytes, kid: str) -> str:
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from seed import ISSUER

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": "x",
        "aud": "bench",
        "client_id": "bench-client",
        "scope": "other",
        "iat": now,
        "exp": now + 3600,
    }
    header = b64(json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}).encode())
    signing_input = header + b"." + b64(json.dumps(claims).encode())
    private = serialization.load_pem_private_key(pem, password=None)
    signature = private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return (signing_input + b"." + b64(signature)).decode()


if __name__ == "__main__":
    sys.exit(main())
