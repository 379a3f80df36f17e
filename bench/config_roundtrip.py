"""Round trip of the whole configuration through a file, at scale (issue 17).

    bench/config_roundtrip --wipe                       # 1,000 APIs, 10,000 routes, 10,000 apps
    bench/config_roundtrip --wipe --apis 100 --routes-per-api 10 --applications 1000 --runs 1

Against the database named by DATABASE_URL (PostgreSQL for figures that mean anything):

1. writes a generated file (one internal issuer, N APIs with their routes and policy, half
   of them active, a policy chain on every 10th and traffic limits on every 5th, M
   applications, each associated with one or two APIs) and applies it
   to an empty configuration: the first load;
2. then, per run: export (with secret hashes, so no secret has to be generated or hashed
   again), wipe, apply, export; the two exports must be byte-identical;
3. applies the same file once more: it must change nothing.

`--steady` measures what a CI job does every day instead, at full size: the database is
filled in bulk (bulk_create, no services: the filling is not what is measured), then
export, a no-change diff and apply, and an apply that changes one field of one API.

Timed with the production password hasher. Every application's secret is given as the
same stored PBKDF2 hash (computed once): hashing 10,000 fresh secrets at about 0.6 s each
is the cost of *generating* secrets, not of the file, and `--secret-hashes` is how a
restore avoids it.
"""

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")
django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connection  # noqa: E402
from oauth2_provider.models import get_application_model  # noqa: E402

from apis.models import Api  # noqa: E402
from applications.models import Application  # noqa: E402
from authservers.models import AuthorizationServer  # noqa: E402
from configfile.apply import apply, diff  # noqa: E402
from configfile.export import export_text  # noqa: E402


def generated_file(apis: int, routes: int, applications: int) -> str:
    secret_hash = make_password("bench-secret-" + "x" * 40)
    lines = [
        "gatekeep: 1",
        "authorization_servers:",
        "- name: bench-issuer",
        "  kind: internal",
        "  issuer: https://bench-issuer.example.com",
        "  default_audience: bench",
        "apis:",
    ]
    for n in range(apis):
        lines += [
            f"- base_path: /bench{n:04d}/v1",
            f"  name: Bench {n}",
            "  version: v1",
            f"  upstream_url: http://127.0.0.1:9000/bench/{n}",
            f"  status: {'active' if n % 2 == 0 else 'inactive'}",
            "  policy:",
            "    authorization_servers: [bench-issuer]",
            "    audiences: [bench]",
            "    forward_claims: {sub: X-User}",
            "  routes:",
        ]
        for r in range(routes):
            method = "GET" if r % 2 == 0 else "POST"
            lines.append(
                f"  - {{method: {method}, path: '/items{r}/{{id}}', "
                f"required_scopes: ['bench:r{r % 3}']}}"
            )
    # Every 10th API has a policy chain, every 5th traffic limits.
    lines.append("policy_chains:")
    for n in range(0, apis, 10):
        lines += [
            f"- api: /bench{n:04d}/v1",
            "  cors: {allowed_origins: ['https://app.example.com'], allowed_methods: [GET]}",
            "  request_limits: {max_body_bytes: 1048576}",
            "  transformations:",
            "  - {target: request_header, operation: set, name: X-Tenant, "
            "source: claim, value: tenant}",
        ]
    lines.append("traffic_limits:")
    for n in range(0, apis, 5):
        lines += [f"- api: /bench{n:04d}/v1", "  rate: 100", "  period: minute"]
    lines.append("applications:")
    for n in range(applications):
        first, second = n % apis, (n * 7 + 3) % apis
        associated = sorted({f"/bench{first:04d}/v1", f"/bench{second:04d}/v1"})
        lines += [
            f"- name: app-{n:05d}",
            f"  identifying_claims: {{client_id: bench-{n}}}",
            f"  apis: [{', '.join(associated)}]",
            f"  client_secret: {{hash: '{secret_hash}'}}",
        ]
    return "\n".join(lines) + "\n"


def bulk_fill(apis: int, routes: int, applications: int) -> None:
    """The configuration straight into the tables (for --steady only)."""
    from apis.models import IdentifyAndAuthorizePolicy, Route

    server = AuthorizationServer.objects.create(
        name="bench-issuer", kind="internal", issuer="https://bench-issuer.example.com"
    )
    made = Api.objects.bulk_create(
        Api(
            name=f"Bench {n}",
            version="v1",
            base_path=f"/bench{n:04d}/v1",
            upstream_url=f"http://127.0.0.1:9000/bench/{n}",
        )
        for n in range(apis)
    )
    Route.objects.bulk_create(
        Route(api=api, method="GET", path=f"/items{r}/{{id}}", required_scopes=["bench:r"])
        for api in made
        for r in range(routes)
    )
    policies = IdentifyAndAuthorizePolicy.objects.bulk_create(
        IdentifyAndAuthorizePolicy(api=api, audiences=["bench"]) for api in made
    )
    through = IdentifyAndAuthorizePolicy.authorization_servers.through
    through.objects.bulk_create(
        through(identifyandauthorizepolicy=policy, authorizationserver=server)
        for policy in policies
    )
    apps = Application.objects.bulk_create(
        Application(name=f"app-{n:05d}", identifying_claims={"client_id": f"bench-{n}"})
        for n in range(applications)
    )
    through = Application.apis.through
    through.objects.bulk_create(
        through(application=app, api=made[n % apis]) for n, app in enumerate(apps)
    )


def steady(options, times: dict) -> None:
    wipe()
    bulk_fill(options.apis, options.routes_per_api, options.applications)
    for run in range(1, options.runs + 1):
        print(f"run {run}:", flush=True)
        text = timed("export", export_text, times)
        plan = timed("diff, no change", lambda text=text: diff(text), times)
        assert plan.empty
        result = timed("apply, no change", lambda text=text: apply(text, actor="bench"), times)
        assert not result.applied
        edited = re.sub(r"name: Bench 7( edited \d+)?\n", f"name: Bench 7 edited {run}\n", text)
        result = timed("apply, one change", lambda t=edited: apply(t, actor="bench"), times)
        assert result.applied and len(result.plan.changes) == 1


def wipe() -> None:
    Application.objects.all().delete()
    get_application_model().objects.all().delete()
    Api.objects.all().delete()
    AuthorizationServer.objects.all().delete()


def timed(label: str, action, times: dict):
    start = time.perf_counter()
    value = action()
    elapsed = time.perf_counter() - start
    times.setdefault(label, []).append(elapsed)
    print(f"  {label:<18} {elapsed:7.2f} s", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wipe", action="store_true", help="Required: the configuration goes.")
    parser.add_argument("--apis", type=int, default=1000)
    parser.add_argument("--routes-per-api", type=int, default=10)
    parser.add_argument("--applications", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steady", action="store_true", help="Daily CI use at full size.")
    options = parser.parse_args()
    if not options.wipe:
        parser.error("this wipes the configuration of DATABASE_URL's database: pass --wipe")
    print(
        f"{options.apis} APIs, {options.apis * options.routes_per_api} routes, "
        f"{options.applications} applications on {connection.vendor}",
        flush=True,
    )
    times: dict[str, list[float]] = {}
    if options.steady:
        steady(options, times)
        summary(times)
        return
    text = generated_file(options.apis, options.routes_per_api, options.applications)
    print(f"file: {len(text) / 1e6:.1f} MB", flush=True)
    wipe()
    timed("first apply", lambda: apply(text, actor="bench"), times)
    for run in range(1, options.runs + 1):
        print(f"run {run}:", flush=True)
        start = time.perf_counter()
        first = timed("export", lambda: export_text(secret_hashes=True), times)
        timed("wipe", wipe, times)
        result = timed("apply", lambda text=first: apply(text, actor="bench"), times)
        second = timed("export again", lambda: export_text(secret_hashes=True), times)
        total = time.perf_counter() - start
        times.setdefault("round trip", []).append(total)
        assert result.applied and not result.generated
        assert second == first, "the exports differ"
        print(f"  {'round trip':<18} {total:7.2f} s  (byte-identical: yes)", flush=True)
    again = timed("apply unchanged", lambda: apply(second, actor="bench"), times)
    assert again.plan.empty and not again.applied
    summary(times)


def summary(times: dict) -> None:
    print("summary (min / median / max, seconds):")
    for label, values in times.items():
        print(
            f"  {label:<18} {min(values):7.2f} {statistics.median(values):7.2f} {max(values):7.2f}"
        )


if __name__ == "__main__":
    main()
