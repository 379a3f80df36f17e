"""The admin side at scale: every console, REST and Django admin page against a large
configuration, and the proxied hot path while admins write.

    bench/admin_scale [--runs 5] [--seconds 10] [--reseed] [--json out.json]

Needs PostgreSQL and Redis: DATABASE_URL and REDIS_URL name them (the database is
emptied and re-seeded when its content is not the benchmark's). Seeds, with bulk
inserts (about a minute): 1,000 active APIs, 10,060 routes, 100,062 applications of
which 100,000 are on one API (`/scale/big/v1`), a few hundred audit events; then
starts the production control and data planes (`manage.py serve`, as
tests/production.py does) and reports:

* for every page: median and max time over `--runs` loads (through the real
  gunicorn control plane), the query count (one load through Django's test client in
  this process, same database) and the response size;
* proxied p99 through the data plane, idle and with one proxy-relevant admin write
  per second (a REST PATCH of an active API's read timeout);
* the control-plane worker's resident memory after the page passes (VmRSS, VmHWM).

See bench/README.md, "The admin side at scale".
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from jwcrypto import jwk  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from seed import ISSUER, make_tokens  # noqa: E402

from apis.models import Api, IdentifyAndAuthorizePolicy, Route  # noqa: E402
from applications.models import Application  # noqa: E402
from authservers.models import AuthorizationServer  # noqa: E402
from authservers.services import refresh_jwks  # noqa: E402
from core.models import AuditEvent  # noqa: E402
from tests.production import free_port, launch, proc_memory_kb  # noqa: E402
from tests.tokens import certificate_pem  # noqa: E402

API_COUNT = 1_000
ROUTES_PER_API = 10
BIG_API_ROUTES = 70  # 999 x 10 + 70 = 10,060 routes
BIG_API_APPLICATIONS = 100_000
OTHER_APPLICATIONS = 62
AUDIT_EVENTS = 300
BIG_PATH = "/scale/big/v1"
USERNAME = "scale-admin"
PAGE_LIMIT_MS, PAGE_LIMIT_BYTES = 300, 500 * 1024
PAGE_TIMEOUT = 180  # seconds; a slower page is reported as a timeout


# --- the upstream: a tiny asyncio server in its own process ------------------------------

UPSTREAM_CODE = """
import asyncio, sys
BODY = b'{"ok":true}'
HEAD = b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\n"
RESPONSE = HEAD + b"Content-Length: %d\\r\\n\\r\\n%s" % (len(BODY), BODY)
async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = 0
            for line in head.split(b"\\r\\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            writer.write(RESPONSE)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()
asyncio.run(main())
"""


def start_upstream() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", UPSTREAM_CODE, str(port)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the upstream did not start")


# --- seeding -----------------------------------------------------------------------------


def seeded() -> bool:
    try:
        big = Api.objects.filter(base_path=BIG_PATH).first()
    except Exception:
        return False
    return (
        big is not None
        and Api.objects.count() == API_COUNT
        and Application.objects.count() == BIG_API_APPLICATIONS + OTHER_APPLICATIONS
        and Route.objects.count() == (API_COUNT - 1) * ROUTES_PER_API + BIG_API_ROUTES
    )


def seed(upstream_url: str, key: jwk.JWK) -> None:
    """The issue's configuration, with bulk inserts (the services would take an hour)."""
    started = time.monotonic()
    call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    with transaction.atomic():
        server = AuthorizationServer.objects.create(
            name="scale-idp",
            issuer=ISSUER,
            public_certificate=certificate_pem(key, "scale-idp").decode(),
        )
        apis = Api.objects.bulk_create(
            Api(
                name="Big" if n == 0 else f"Service {n:04d}",
                version="v1",
                base_path=BIG_PATH if n == 0 else f"/scale/s{n:04d}/v1",
                upstream_url=upstream_url,
                status="active",
                description=f"Seeded API {n}",
            )
            for n in range(API_COUNT)
        )
        big = apis[0]
        routes = [Route(api=big, method="GET", path="/items", required_scopes=["bench:read"])]
        routes += [
            Route(api=big, method="GET", path=f"/things{r}/{{id}}")
            for r in range(BIG_API_ROUTES - 1)
        ]
        routes += [
            Route(api=api, method="GET", path=f"/things{r}/{{id}}")
            for api in apis[1:]
            for r in range(ROUTES_PER_API)
        ]
        Route.objects.bulk_create(routes, batch_size=5000)
        policies = IdentifyAndAuthorizePolicy.objects.bulk_create(
            IdentifyAndAuthorizePolicy(api=api, audiences=["bench"]) for api in apis
        )
        trusts = IdentifyAndAuthorizePolicy.authorization_servers.through
        trusts.objects.bulk_create(
            trusts(identifyandauthorizepolicy_id=p.id, authorizationserver_id=server.id)
            for p in policies
        )
        through = Application.apis.through
        hot = Application.objects.create(
            name="bench", identifying_claims={"client_id": "bench-client"}
        )
        through.objects.create(application_id=hot.id, api_id=big.id)
        for start in range(0, BIG_API_APPLICATIONS - 1, 20_000):
            stop = min(start + 20_000, BIG_API_APPLICATIONS - 1)
            made = Application.objects.bulk_create(
                (
                    Application(name=f"app-{n:06d}", identifying_claims={"client_id": f"c-{n}"})
                    for n in range(start, stop)
                ),
                batch_size=5000,
            )
            through.objects.bulk_create(
                (through(application_id=app.id, api_id=big.id) for app in made), batch_size=5000
            )
        others = Application.objects.bulk_create(
            Application(name=f"team-{n:02d}", identifying_claims={"client_id": f"team-{n}"})
            for n in range(OTHER_APPLICATIONS)
        )
        through.objects.bulk_create(
            through(application_id=app.id, api_id=apis[1 + (n * 7 + k) % (API_COUNT - 1)].id)
            for n, app in enumerate(others)
            for k in range(3)
        )
        user = get_user_model().objects.create_superuser(USERNAME, "scale@example.com", "x")
        AuditEvent.objects.bulk_create(
            AuditEvent(
                actor=user,
                actor_name=USERNAME,
                action="update",
                object_type="api",
                object_id=str(apis[n % API_COUNT].id),
                object_repr=str(apis[n % API_COUNT]),
                before={"description": "old"},
                after={"description": "new"},
            )
            for n in range(AUDIT_EVENTS)
        )
    refresh_jwks(server)
    from core.config_version import bump_config_version

    with transaction.atomic():
        bump_config_version()
    print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)


# --- pages -------------------------------------------------------------------------------


def pages() -> list[tuple[str, str]]:
    big = Api.objects.get(base_path=BIG_PATH)
    small = Api.objects.exclude(pk=big.pk).order_by("pk").first()
    big_app = Application.objects.filter(apis=big).order_by("pk").last()
    team = Application.objects.filter(name="team-00").first()
    route = big.routes.order_by("pk").first()
    server = AuthorizationServer.objects.get(name="scale-idp")
    listed = [
        ("console", "/console/"),
        ("console", "/console/apis/"),
        ("console", "/console/apis/?page=20"),
        ("console", "/console/apis/?q=service"),
        ("console", "/console/apis/?sort=-updated&per_page=100&page=5"),
        ("console", "/console/apis/?sort=status&page=20"),
        ("console", f"/console/apis/{big.pk}/"),
        ("console", f"/console/apis/{small.pk}/"),
        # The API page's other tabs (console/api_tabs.py).
        *(
            ("console", f"/console/apis/{api.pk}/{tab}/")
            for api in (big, small)
            for tab in ("routes", "policy", "policy/edit", "applications", "traffic", "history")
        ),
        ("console", f"/console/apis/{big.pk}/routes/?page=2"),
        ("console", f"/console/apis/bulk/confirm/?action=deactivate&apis={big.pk}&apis={small.pk}"),
        ("console", f"/console/apis/{big.pk}/edit/"),
        ("console", f"/console/apis/{big.pk}/delete/confirm/"),
        ("console", "/console/apis/new/"),
        ("console", "/console/applications/"),
        ("console", "/console/applications/?page=2000"),
        ("console", "/console/applications/?sort=-updated&per_page=100&page=1000"),
        ("console", "/console/applications/?sort=status&per_page=50&page=1500"),
        ("console", f"/console/applications/?api={big.pk}&sort=-updated&page=3000"),
        ("console", "/console/applications/?q=app-0999"),
        ("console", f"/console/applications/{big_app.pk}/"),
        ("console", f"/console/applications/{big_app.pk}/edit/"),
        ("console", f"/console/applications/{team.pk}/edit/"),
        ("console", "/console/applications/new/"),
        ("console", "/console/servers/"),
        ("console", "/console/servers/?sort=-updated"),
        ("console", f"/console/servers/{server.pk}/"),
        ("console", f"/console/servers/{server.pk}/edit/"),
        ("console", "/console/inspector/"),
        ("console", "/console/audit/"),
        ("console", "/console/audit/?sort=created&per_page=100&page=3"),
        ("rest", "/api/v1/apis/"),
        ("rest", f"/api/v1/apis/{big.pk}/"),
        ("rest", f"/api/v1/apis/{big.pk}/routes/"),
        ("rest", f"/api/v1/apis/{big.pk}/policy/"),
        ("rest", "/api/v1/applications/"),
        ("rest", "/api/v1/applications/?page=2000"),
        ("rest", f"/api/v1/applications/{big_app.pk}/"),
        ("rest", "/api/v1/authorization-servers/"),
        ("rest", f"/api/v1/authorization-servers/{server.pk}/"),
        ("rest", "/api/v1/audit-events/"),
        ("admin", "/admin/"),
        ("admin", "/admin/apis/api/"),
        ("admin", f"/admin/apis/api/{big.pk}/change/"),
        ("admin", "/admin/apis/route/"),
        ("admin", f"/admin/apis/route/{route.pk}/change/"),
        ("admin", "/admin/applications/application/"),
        ("admin", f"/admin/applications/application/{big_app.pk}/change/"),
        ("admin", "/admin/authservers/authorizationserver/"),
        ("admin", f"/admin/authservers/authorizationserver/{server.pk}/change/"),
        ("admin", "/admin/core/auditevent/"),
    ]
    return listed


def query_counts(paths: list[tuple[str, str]], user, token: str) -> dict[str, tuple[int, int]]:
    """(queries, status) of one load of each page through the test client, in-process."""
    client = Client()
    client.force_login(user)
    found = {}
    for _, path in paths:
        headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if path.startswith("/api/") else {}
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path, **headers)
        found[path] = (len(queries.captured_queries), response.status_code)
    return found


def time_pages(
    admin_url: str, paths, session: str, token: str, runs: int, verbose: bool = False
) -> dict[str, dict]:
    """Loads each page `runs` times (2 when a load takes over 3 s) through the server."""
    parts = urlsplit(admin_url)
    results = {}
    for _, path in paths:
        headers = (
            {"Authorization": f"Token {token}"}
            if path.startswith("/api/")
            else {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"}
        )
        times, size, status = [], 0, 0
        for attempt in range(runs):
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=PAGE_TIMEOUT)
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                size, status = len(body), response.status
            except TimeoutError:
                status = "timeout"
            times.append((time.perf_counter() - started) * 1000)
            conn.close()
            if status == "timeout" or (attempt == 1 and min(times) > 3000):
                break
        if verbose:
            print(f"  {path}: {statistics.median(times):.0f} ms, {size} B, {status}", flush=True)
        results[path] = {
            "median_ms": statistics.median(times),
            "max_ms": max(times),
            "bytes": size,
            "status": status,
            "loads": len(times),
        }
    return results


# --- the hot path under admin writes -------------------------------------------------------


def proxied_latencies(url: str, token: str, seconds: float, clients: int = 8) -> list[float]:
    parts = urlsplit(url)
    stop = time.monotonic() + seconds
    found: list[list[float]] = [[] for _ in range(clients)]
    errors = []

    def client(mine: list[float]) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        while time.monotonic() < stop:
            started = time.perf_counter()
            conn.request("GET", settings.GATEWAY_PREFIX + BIG_PATH + "/items", headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                errors.append(response.status)

    threads = [threading.Thread(target=client, args=(found[n],)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        print(f"  {len(errors)} non-200 answers, e.g. {errors[:5]}", flush=True)
    return sorted(x for mine in found for x in mine)


def writer(admin_url: str, token: str, api_id: int, stop: threading.Event, done: list) -> None:
    """One REST PATCH per second that the proxy uses (the read timeout of an active API)."""
    parts = urlsplit(admin_url)
    n = 0
    while not stop.is_set():
        started = time.monotonic()
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        body = json.dumps({"read_timeout": 10 + n % 2}).encode()
        conn.request(
            "PATCH",
            f"/api/v1/apis/{api_id}/",
            body=body,
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        response.read()
        done.append((response.status, (time.monotonic() - started) * 1000))
        n += 1
        stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def hot_path(gateway, token: str, admin_key: str, api_id: int, seconds: float) -> dict:
    proxied_latencies(gateway.url, token, 2)  # warm-up
    idle = proxied_latencies(gateway.url, token, seconds)
    stop, done = threading.Event(), []
    thread = threading.Thread(
        target=writer, args=(gateway.admin_url, admin_key, api_id, stop, done)
    )
    thread.start()
    busy = proxied_latencies(gateway.url, token, seconds)
    stop.set()
    thread.join()
    statuses = sorted({status for status, _ in done})
    return {
        "idle": {
            "requests": len(idle),
            "rps": len(idle) / seconds,
            "p50_ms": percentile(idle, 0.5),
            "p99_ms": percentile(idle, 0.99),
            "max_ms": idle[-1],
        },
        "writes": {
            "requests": len(busy),
            "rps": len(busy) / seconds,
            "p50_ms": percentile(busy, 0.5),
            "p99_ms": percentile(busy, 0.99),
            "max_ms": busy[-1],
            "writes": len(done),
            "write_statuses": statuses,
            "write_median_ms": statistics.median(ms for _, ms in done) if done else None,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="loads per page")
    parser.add_argument("--seconds", type=float, default=10, help="per hot-path phase")
    parser.add_argument("--passes", type=int, default=3, help="passes over the pages")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument(
        "--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="two --json files"
    )
    args = parser.parse_args()
    if args.compare:
        compare(*(json.loads(path.read_text()) for path in args.compare))
        return 0
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        print("Set DATABASE_URL to PostgreSQL and REDIS_URL: this measures production.")
        return 2
    upstream, upstream_url = start_upstream()
    key_file = Path(tempfile.gettempdir()) / f"admin-scale-{connection.settings_dict['NAME']}.json"
    try:
        if args.reseed or not seeded() or not key_file.exists():
            key = jwk.JWK.generate(kty="RSA", size=2048)
            key_file.write_text(key.export(private_key=True))
            seed(upstream_url, key)
        key = jwk.JWK.from_json(key_file.read_text())
        Api.objects.all().update(upstream_url=upstream_url)  # this run's upstream port
        server = AuthorizationServer.objects.get(name="scale-idp")
        refresh_jwks(server)
        server.refresh_from_db()
        kid = server.jwks_snapshot.keys[0]["kid"]
        pem = key.export_to_pem(private_key=True, password=None)
        bearer = make_tokens(pem, kid, ["hot-user"])[0]
        user = get_user_model().objects.get(username=USERNAME)
        token, _ = Token.objects.get_or_create(user=user)
        from core.config_version import bump_config_version

        with transaction.atomic():
            bump_config_version()  # the upstream moved
        paths = pages()
        big_id = paths and Api.objects.get(base_path=BIG_PATH).pk
        small_id = Api.objects.exclude(pk=big_id).order_by("pk").first().pk
        counts = {} if args.skip_pages else query_counts(paths, user, token.key)
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        connections.close_all()
        environment = {
            **os.environ,
            "DATABASE_CONN_MAX_AGE": "60",
            "DEBUG": "false",
            "GATEWAY_TRUSTED_PROXIES": "",
            "LOG_LEVEL": "WARNING",
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "GATEWAY_PUBLIC_WORKERS": "2",
        }
        gateway = launch(environment, workers=2, threads=8, timeout=120)
        try:
            admin_pid = gateway.worker_pids("admin")
            rss_start = proc_memory_kb(admin_pid[0]) // 1024 if admin_pid else None
            timed = {}
            if not args.skip_pages:
                for n in range(args.passes):
                    timed_pass = time_pages(
                        gateway.admin_url, paths, session, token.key, args.runs, verbose=n == 0
                    )
                    if n == 0:
                        timed = timed_pass
                    else:
                        for path, row in timed_pass.items():
                            timed[path]["max_ms"] = max(timed[path]["max_ms"], row["max_ms"])
                    print(f"pages: pass {n + 1} done", flush=True)
            admin_pids = gateway.worker_pids("admin")
            memory = {
                "start_mb": rss_start,
                "workers": [
                    {
                        "pid": pid,
                        "rss_mb": proc_memory_kb(pid) // 1024,
                        "peak_mb": proc_memory_kb(pid, "VmHWM") // 1024,
                    }
                    for pid in admin_pids
                ],
                "recycled": admin_pids != admin_pid,
            }
            hot = hot_path(gateway, bearer, token.key, small_id, args.seconds)
            # The control plane compiles each written version's snapshot: its memory then.
            memory["after_writes"] = [
                {
                    "pid": pid,
                    "rss_mb": proc_memory_kb(pid) // 1024,
                    "peak_mb": proc_memory_kb(pid, "VmHWM") // 1024,
                }
                for pid in gateway.worker_pids("admin")
            ]
        finally:
            gateway.stop()
    finally:
        upstream.terminate()
    report(paths, counts, timed, memory, hot)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"pages": timed, "queries": counts, "memory": memory, "hot_path": hot}, indent=2
            )
        )
    return 0


def compare(before: dict, after: dict) -> None:
    """One markdown table of two runs' pages: median / max ms, queries, KB."""

    def cell(run: dict, path: str) -> str:
        row = run["pages"].get(path)
        if row is None:
            return "- | - | -"
        if row["status"] == "timeout":
            return f"> {PAGE_TIMEOUT} s (timeout) | - | -"
        queries = run["queries"].get(path, ["?"])[0]
        return (
            f"{row['median_ms']:.0f} / {row['max_ms']:.0f} | {queries} | {row['bytes'] / 1024:.0f}"
        )

    print("| page | before ms (median / max) | q | KB | after ms (median / max) | q | KB |")
    print("|---|---|---|---|---|---|---|")
    for path in after["pages"]:
        print(f"| `{path}` | {cell(before, path)} | {cell(after, path)} |")


def report(paths, counts, timed, memory, hot) -> None:
    if timed:
        print(
            "\n| surface | page | median ms | max ms | queries | size KB | status |\n"
            "|---|---|---|---|---|---|---|"
        )
        for surface, path in paths:
            row = timed[path]
            queries = counts.get(path, ("?", "?"))[0]
            flag = (
                " **over**"
                if row["median_ms"] > PAGE_LIMIT_MS or row["bytes"] > PAGE_LIMIT_BYTES
                else ""
            )
            print(
                f"| {surface} | `{path}` | {row['median_ms']:.0f}{flag} | {row['max_ms']:.0f} | "
                f"{queries} | {row['bytes'] / 1024:.0f} | {row['status']} |"
            )
    print(f"\ncontrol-plane worker memory: {json.dumps(memory)}")
    idle, busy = hot["idle"], hot["writes"]
    print(
        f"proxied idle: {idle['rps']:.0f} req/s, p50 {idle['p50_ms']:.1f} ms, "
        f"p99 {idle['p99_ms']:.1f} ms, max {idle['max_ms']:.0f} ms"
    )
    print(
        f"proxied with 1 write/s: {busy['rps']:.0f} req/s, p50 {busy['p50_ms']:.1f} ms, "
        f"p99 {busy['p99_ms']:.1f} ms, max {busy['max_ms']:.0f} ms "
        f"({busy['writes']} writes, statuses {busy['write_statuses']}, "
        f"median {busy['write_median_ms']:.0f} ms)"
    )


if __name__ == "__main__":
    sys.exit(main())
