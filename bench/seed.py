"""Load benchmark data into the database named by DATABASE_URL.

    python bench/seed.py OUT_DIR [--apis N --routes-per-api N --applications N --tokens N]

Creates one static-certificate issuer (no JWKS server needed), the measured API
`/bench/v1` → the upstream, optional filler APIs/routes/applications, and writes
OUT_DIR/token.txt (one hot token) and OUT_DIR/tokens.txt (distinct valid tokens).
"""

import argparse
import base64
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")
django.setup()

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from jwcrypto import jwk  # noqa: E402

from apis.models import Api, IdentifyAndAuthorizePolicy, Route  # noqa: E402
from apis.services import activate_api  # noqa: E402
from applications.models import Application  # noqa: E402
from authservers.models import AuthorizationServer  # noqa: E402
from authservers.services import refresh_jwks  # noqa: E402
from tests.tokens import certificate_pem  # noqa: E402

ISSUER = "https://bench-idp.example.com"


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def make_tokens(
    private_pem: bytes, kid: str, subjects: list[str], client_id: str = "bench-client"
) -> list[str]:
    """RS256 tokens for these subjects, signed with `cryptography` directly (fast)."""
    private = serialization.load_pem_private_key(private_pem, password=None)
    header = _b64(json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}).encode())
    now = int(time.time())
    tokens = []
    for sub in subjects:
        claims = {
            "iss": ISSUER,
            "sub": sub,
            "aud": "bench",
            "client_id": client_id,
            "scope": "bench:read",
            "iat": now,
            "nbf": now,
            "exp": now + 6 * 3600,
        }
        signing_input = header + b"." + _b64(json.dumps(claims).encode())
        signature = private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        tokens.append((signing_input + b"." + _b64(signature)).decode())
    return tokens


def write_tokens(path: Path, key: jwk.JWK, kid: str, count: int) -> None:
    """`count` distinct tokens, signed on every core (100,000 take about a minute)."""
    pem = key.export_to_pem(private_key=True, password=None)
    subjects = [f"user-{n}" for n in range(count)]
    batches = [subjects[i : i + 2000] for i in range(0, count, 2000)]
    with ProcessPoolExecutor() as pool, path.open("w") as out:
        for tokens in pool.map(make_tokens, [pem] * len(batches), [kid] * len(batches), batches):
            out.writelines(token + "\n" for token in tokens)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--upstream", default="http://127.0.0.1:18080")
    parser.add_argument("--apis", type=int, default=1)
    parser.add_argument("--routes-per-api", type=int, default=1)
    parser.add_argument("--applications", type=int, default=1)
    parser.add_argument("--tokens", type=int, default=10000)
    # bench/ratelimit.py: limits on /bench/v1, and a second application with its own token.
    parser.add_argument("--rate-limit", help="RATE[:BURST] per second and application")
    parser.add_argument("--second-application", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    call_command("migrate", verbosity=0)

    key = jwk.JWK.generate(kty="RSA", size=2048)
    with transaction.atomic():
        server = AuthorizationServer.objects.create(
            name="bench-idp",
            issuer=ISSUER,
            public_certificate=certificate_pem(key, "bench-idp").decode(),
        )
        api = Api.objects.create(name="Bench", base_path="/bench/v1", upstream_url=args.upstream)
        Route.objects.create(api=api, method="GET", path="/items", required_scopes=["bench:read"])
        Route.objects.bulk_create(
            Route(api=api, method="GET", path=f"/filler{n}/{{id}}")
            for n in range(args.routes_per_api - 1)
        )
        policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["bench"])
        policy.authorization_servers.add(server)
        app = Application.objects.create(
            name="bench", identifying_claims={"client_id": "bench-client"}
        )
        app.apis.add(api)
        _filler(args, server)
        _limits(args, api)
    assert activate_api(api) == []
    refresh_jwks(server)
    kid = server.jwks_snapshot.keys[0]["kid"]
    connections.close_all()  # before the signing processes fork
    pem = key.export_to_pem(private_key=True, password=None)
    (args.out / "token.txt").write_text(make_tokens(pem, kid, ["hot-user"])[0])
    write_tokens(args.out / "tokens.txt", key, kid, args.tokens)
    if args.second_application:
        token = make_tokens(pem, kid, ["calm-user"], client_id="bench-b")[0]
        (args.out / "token-b.txt").write_text(token)


def _limits(args, api) -> None:
    from traffic.models import LimitPolicy

    if args.second_application:
        other = Application.objects.create(
            name="bench-b", identifying_claims={"client_id": "bench-b"}
        )
        other.apis.add(api)
    if args.rate_limit:
        rate, _, burst = args.rate_limit.partition(":")
        LimitPolicy.objects.create(api=api, rate=int(rate), burst=int(burst) if burst else None)


def _filler(args, server) -> None:
    """Extra APIs, routes and applications, to measure how cost grows with config size."""
    if args.apis > 1:
        apis = Api.objects.bulk_create(
            Api(
                name=f"Filler {n}",
                base_path=f"/filler{n}/v1",
                upstream_url=args.upstream,
                status="active",
            )
            for n in range(args.apis - 1)
        )
        Route.objects.bulk_create(
            Route(api=api, method="GET", path=f"/things{r}/{{id}}")
            for api in apis
            for r in range(args.routes_per_api)
        )
        policies = IdentifyAndAuthorizePolicy.objects.bulk_create(
            IdentifyAndAuthorizePolicy(api=api, audiences=["bench"]) for api in apis
        )
        through = IdentifyAndAuthorizePolicy.authorization_servers.through
        through.objects.bulk_create(
            through(identifyandauthorizepolicy_id=p.id, authorizationserver_id=server.id)
            for p in policies
        )
    if args.applications > 1:
        bench_api = Api.objects.get(base_path="/bench/v1")
        apps = Application.objects.bulk_create(
            Application(name=f"app-{n}", identifying_claims={"client_id": f"client-{n}"})
            for n in range(args.applications - 1)
        )
        through = Application.apis.through
        through.objects.bulk_create(
            through(application_id=app.id, api_id=bench_api.id) for app in apps
        )


if __name__ == "__main__":
    main()
