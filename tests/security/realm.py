"""The validator in-process: a compiled PolicyConfig, keys in the shared snapshot, no HTTP.

The key snapshot is put where the gateway's key store reads it (the Django
cache, read as a worker reads it under Redis: tests/security/conftest.py), so
validate_token() runs exactly as in a worker, without a database
query or an IdP.
"""

import io
import time
from dataclasses import dataclass

from django.core.cache import cache

from authservers.choices import DEFAULT_ALGORITHMS
from authservers.jwks import keyset_version, parse_jwks
from authservers.keysets import SNAPSHOT_CACHE_KEY
from authservers.keystore import ServerKeyPolicy
from proxy.config import PolicyConfig, ServerConfig
from tests.servers import call_gateway_in_thread
from tests.tokens import claims_for, sign

ISSUER = "https://idp.example.com"


@dataclass
class Realm:
    policy: PolicyConfig
    server: ServerConfig
    keys: list

    @property
    def issuer(self) -> str:
        return self.server.issuer

    def claims(self, **overrides) -> dict:
        return claims_for(self.issuer, **overrides)

    def token(self, key=None, header: dict | None = None, alg: str | None = None, **claims) -> str:
        return sign(key or self.keys[0], self.claims(**claims), header, alg)


def make_server(
    keys: list,
    issuer: str = ISSUER,
    server_id: int = 900_001,
    allowed: list[str] | None = None,
    required_typ: str = "",
    leeway: int = 60,
    jwks: list[dict] | None = None,
) -> ServerConfig:
    """A trusted server whose key set (published to the cache) is `keys` or raw `jwks`."""
    allowed_algorithms = frozenset(allowed or DEFAULT_ALGORITHMS)
    document = {"keys": jwks if jwks is not None else [k.export_public(as_dict=True) for k in keys]}
    parsed = parse_jwks(document, 100)
    cache.set(
        SNAPSHOT_CACHE_KEY.format(server_id),
        {"version": keyset_version(parsed.keys), "keys": parsed.keys, "fetched_at": time.time()},
        timeout=None,
    )
    return ServerConfig(
        id=server_id,
        name=f"server {server_id}",
        issuer=issuer,
        allowed_algorithms=allowed_algorithms,
        leeway_seconds=leeway,
        required_typ=required_typ,
        keys=ServerKeyPolicy(
            id=server_id,
            name=f"server {server_id}",
            allowed_algorithms=allowed_algorithms,
            jwks_refresh_seconds=300,
            max_stale_seconds=86400,
        ),
    )


def make_policy(*servers: ServerConfig, audiences=("petstore",), **fields) -> PolicyConfig:
    values = {
        "servers_by_issuer": {server.issuer: server for server in servers},
        "identity_source": "header",
        "identity_name": "Authorization",
        "audiences": frozenset(audiences),
        "required_scopes": frozenset(),
        "allow_anonymous": False,
        "forward_claims": (),
        "forward_authorization": False,
    }
    values.update(fields)
    return PolicyConfig(**values)


def make_realm(keys: list, **server_fields) -> Realm:
    server = make_server(keys, **server_fields)
    return Realm(make_policy(server), server, keys)


def environ(authorization: str | None = None, query: str = "", **extra) -> dict:
    values = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/gateway/x",
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.url_scheme": "http",
    }
    if authorization is not None:
        values["HTTP_AUTHORIZATION"] = authorization
    values.update(extra)
    return values


def call_in_thread(path: str, token: str) -> str:
    """The data plane's app driven in this thread, so its queries are counted here."""
    return str(call_gateway_in_thread(path, token)[0])
