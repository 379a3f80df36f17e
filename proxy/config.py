"""The in-memory gateway configuration each worker serves from.

`build_config()` reads every active API with its routes, policy, trusted servers
and applications in a handful of queries and compiles them into look-up
structures. `current_config()` returns the compiled config and rebuilds it when
the shared config version moved, checking at most every
GATEWAY_CONFIG_POLL_SECONDS: zero queries per request in steady state.
"""

import ctypes
import ctypes.util
import gc
import logging
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from apis.choices import ApiKind, ApiStatus
from apis.models import Api
from apis.paths import split_path
from apis.token_location import TokenLocation
from applications.choices import ApplicationStatus
from applications.models import Application
from authservers.choices import ServerKind
from authservers.keystore import ServerKeyPolicy
from core.config_version import read_config_version
from core.db import release_connection
from proxy.applications import ApplicationIndex, ApplicationTable
from proxy.routing import RouteConfig, RouteTrie

logger = logging.getLogger(__name__)

EMPTY_INDEX = ApplicationIndex(ApplicationTable()).seal()


@dataclass(frozen=True, slots=True)
class ServerConfig:
    id: int
    name: str
    issuer: str
    allowed_algorithms: frozenset[str]
    leeway_seconds: int
    required_typ: str  # lower-case; "" accepts any
    keys: ServerKeyPolicy


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    servers_by_issuer: dict[str, ServerConfig]
    identity_source: str
    identity_name: str
    audiences: frozenset[str]
    required_scopes: frozenset[str]
    allow_anonymous: bool
    forward_claims: tuple[tuple[str, str], ...]
    forward_authorization: bool
    # Where the token travels, from identity_source and identity_name (apis/token_location.py).
    token_location: TokenLocation = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "token_location", TokenLocation.of(self))


@dataclass(frozen=True, slots=True)
class Upstream:
    scheme: str
    host: str
    port: int
    path: str  # the upstream's own path prefix, without trailing slash
    origin: str  # scheme://host:port, the connection-pool key

    @classmethod
    def parse(cls, url: str) -> "Upstream":
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        origin = f"{parts.scheme}://{parts.hostname}:{port}"
        return cls(parts.scheme, parts.hostname or "", port, parts.path.rstrip("/"), origin)


@dataclass(frozen=True, slots=True)
class ApiConfig:
    id: int
    name: str
    base_path: str
    soap: bool
    upstream: Upstream
    connect_timeout: float
    read_timeout: float
    routes: RouteTrie
    policy: PolicyConfig | None
    applications: ApplicationIndex


@dataclass(frozen=True)
class GatewayConfig:
    version: str | None
    apis: dict[tuple[str, ...], ApiConfig]  # base-path segments → API
    max_depth: int

    def find_api(self, segments: list[str]) -> tuple[ApiConfig, list[str]] | None:
        """Longest base-path prefix of the request path; the rest is the route path."""
        for depth in range(min(self.max_depth, len(segments)), 0, -1):
            api = self.apis.get(tuple(segments[:depth]))
            if api is not None:
                return api, segments[depth:]
        return None


def build_config(version: str | None) -> GatewayConfig:
    apis = list(
        Api.objects.filter(status=ApiStatus.ACTIVE)
        .select_related("policy")
        .prefetch_related("routes", "policy__authorization_servers")
    )
    servers: dict[int, ServerConfig] = {}
    applications = _application_indexes(apis)
    compiled = {}
    for api in apis:
        compiled_api = _compile_api(api, servers, applications.get(api.id))
        compiled[tuple(split_path(api.base_path))] = compiled_api
    depth = max((len(key) for key in compiled), default=0)
    return GatewayConfig(version=version, apis=compiled, max_depth=depth)


def _application_indexes(apis: list[Api]) -> dict[int, ApplicationIndex]:
    """Every association of an active API, streamed as plain rows into the indexes.

    With 100,000 applications, model instances or intermediate lists would cost
    hundreds of MB at build time (memory CPython keeps afterwards); each row goes
    straight into the compact index instead.
    """
    # An application's own client_id identifies it to the internal issuer without
    # extra claims (docs/architecture.md, REST admin API); bound to internal servers, so
    # an external IdP minting a token with that client_id cannot impersonate it.
    internal_issuers = {
        api.id: [
            server.issuer
            for server in api.policy.authorization_servers.all()
            if server.kind == ServerKind.INTERNAL
        ]
        for api in apis
        if getattr(api, "policy", None) is not None
    }
    rows = Application.apis.through.objects.filter(api__status=ApiStatus.ACTIVE).values_list(
        "api_id",
        "application_id",
        "application__name",
        "application__status",
        "application__identifying_claims",
        "application__oauth_client__client_id",
    )
    table = ApplicationTable()
    indexes: dict[int, ApplicationIndex] = {}
    for api_id, app_id, name, status, claims, client_id in rows.iterator(chunk_size=2000):
        row = table.row(app_id, name, status == ApplicationStatus.ACTIVE)
        index = indexes.get(api_id)
        if index is None:
            index = indexes[api_id] = ApplicationIndex(table)
        index.add(claims, row)
        if client_id:
            for issuer in internal_issuers.get(api_id, ()):
                index.add({"iss": issuer, "client_id": client_id}, row)
    table.seal()
    return {api_id: index.seal() for api_id, index in indexes.items()}


def _compile_api(
    api: Api, servers: dict[int, ServerConfig], applications: ApplicationIndex | None
) -> ApiConfig:
    routes = [
        RouteConfig(r.id, r.method, r.path, frozenset(r.required_scopes), r.anonymous)
        for r in api.routes.all()
    ]
    policy = getattr(api, "policy", None)
    policy_config = None
    if policy is not None:
        trusted = [_server_config(s, servers) for s in policy.authorization_servers.all()]
        policy_config = PolicyConfig(
            servers_by_issuer={server.issuer: server for server in trusted},
            identity_source=policy.identity_source,
            identity_name=policy.identity_name,
            audiences=frozenset(policy.audiences),
            required_scopes=frozenset(policy.required_scopes),
            allow_anonymous=policy.allow_anonymous,
            forward_claims=tuple(policy.forward_claims.items()),
            forward_authorization=policy.forward_authorization,
        )
    return ApiConfig(
        id=api.id,
        name=str(api),
        base_path=api.base_path,
        soap=api.kind == ApiKind.SOAP,
        upstream=Upstream.parse(api.upstream_url),
        connect_timeout=api.connect_timeout,
        read_timeout=api.read_timeout,
        routes=RouteTrie(routes),
        policy=policy_config,
        applications=applications or EMPTY_INDEX,
    )


def _server_config(server, servers: dict[int, ServerConfig]) -> ServerConfig:
    if server.id not in servers:
        allowed = frozenset(server.allowed_algorithms)
        servers[server.id] = ServerConfig(
            id=server.id,
            name=server.name,
            issuer=server.issuer,
            allowed_algorithms=allowed,
            leeway_seconds=server.leeway_seconds,
            # Our own issuer always signs typ at+jwt (RFC 9068): require it whatever the field says.
            required_typ=(
                "at+jwt" if server.kind == ServerKind.INTERNAL else server.required_typ.lower()
            ),
            keys=ServerKeyPolicy(
                id=server.id,
                name=server.name,
                allowed_algorithms=allowed,
                jwks_refresh_seconds=server.jwks_refresh_seconds,
                max_stale_seconds=server.max_stale_seconds,
            ),
        )
    return servers[server.id]


def _return_free_memory_to_os() -> None:
    """Give back the heap the build's temporaries used (glibc keeps it otherwise)."""
    if _libc is not None:
        _libc.malloc_trim(0)


try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    _libc.malloc_trim  # noqa: B018 - glibc only: musl and macOS have no malloc_trim
except (OSError, AttributeError):
    _libc = None


class ConfigHolder:
    """Per-process owner of the compiled config.

    Synchronous callers (the token inspector) use `current()`, which checks the
    version itself. The data plane never waits on it: its event loop reads
    `snapshot()`, and a poller thread calls `refresh()` every
    GATEWAY_CONFIG_POLL_SECONDS; a rebuild swaps the new config in atomically.
    """

    def __init__(self) -> None:
        self._config: GatewayConfig | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self.listeners: list = []  # called after each rebuild (e.g. to drop token caches)

    def snapshot(self) -> GatewayConfig | None:
        return self._config

    def current(self) -> GatewayConfig:
        config = self._config
        if (
            config is not None
            and time.monotonic() - self._checked_at < settings.GATEWAY_CONFIG_POLL_SECONDS
        ):
            return config
        with self._lock:
            if (
                self._config is not None
                and time.monotonic() - self._checked_at < settings.GATEWAY_CONFIG_POLL_SECONDS
            ):
                return self._config
            self._check()
            return self._config

    def refresh(self) -> None:
        """Rebuild if the shared version moved; a no-op before the first load."""
        if self._config is None:
            return
        with self._lock:
            self._check()

    def _check(self) -> None:
        self._checked_at = time.monotonic()
        try:
            version = read_config_version()
        finally:
            release_connection()
        if self._config is None or (version is not None and version != self._config.version):
            self._rebuild(version)

    def _rebuild(self, version: str | None) -> None:
        try:
            config = build_config(version)
        except Exception:
            if self._config is None:
                raise
            # The database is unreachable: keep serving what we know.
            logger.exception("Could not rebuild the gateway config; serving the previous one")
            return
        finally:
            release_connection()
        self._config = config
        for listener in self.listeners:
            listener()
        # The compiled config is long-lived: move it out of the cyclic GC's generations so
        # collections on the hot path don't traverse 100,000 application entries each time.
        gc.collect()
        gc.freeze()
        _return_free_memory_to_os()

    def invalidate(self) -> None:
        with self._lock:
            self._config = None
            self._checked_at = 0.0


config_holder = ConfigHolder()
