"""The in-memory gateway configuration each worker serves from.

`build_config()` reads every active API with its routes, policy, trusted servers
and applications in a handful of queries and compiles them into look-up
structures. `current_config()` returns the compiled config and rebuilds it when
the shared config version moved, checking at most every
GATEWAY_CONFIG_POLL_SECONDS: zero queries per request in steady state.
"""

import gc
import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
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
from core import config_bus
from core.config_version import database_version, read_config_version, version_number
from core.db import release_connection
from policies.snapshot import collect_chains
from proxy import snapshot_store
from proxy.applications import ApplicationIndex, ApplicationTable
from proxy.incremental import application_digests, reusable_apis, source_keys
from proxy.memory import return_free_memory_to_os
from proxy.rebuilds import BackgroundRebuilds
from proxy.routing import RouteConfig, RouteTrie
from proxy.stages.chain import EMPTY_CHAIN, Chain, compile_chain
from traffic.snapshot import NO_LIMITS, TrafficConfig, collect_limits, compile_limits

logger = logging.getLogger(__name__)
SNAPSHOT_FORMAT = 2  # 2: applications as JSON lines
COMPILE_WAIT_SECONDS = 5.0

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
    chain: Chain = EMPTY_CHAIN  # CORS, client addresses, limits, transformation, targets


@dataclass(frozen=True)
class GatewayConfig:
    version: str | None
    apis: dict[tuple[str, ...], ApiConfig]  # base-path segments → API
    max_depth: int
    traffic: TrafficConfig = NO_LIMITS  # rate limits and quotas (traffic/snapshot.py)
    # API id → (what it was compiled from, its ApiConfig): the next compile reuses an API
    # whose sources did not change (proxy/incremental.py).
    sources: dict = field(default_factory=dict, compare=False, repr=False)

    def find_api(self, segments: list[str]) -> tuple[ApiConfig, list[str]] | None:
        """Longest base-path prefix of the request path; the rest is the route path."""
        for depth in range(min(self.max_depth, len(segments)), 0, -1):
            api = self.apis.get(tuple(segments[:depth]))
            if api is not None:
                return api, segments[depth:]
        return None


def build_config(version: str | None) -> GatewayConfig:
    """Read the database and compile (one process per version does this: see ConfigHolder)."""
    return compile_snapshot(collect_snapshot(version))


def collect_snapshot(version: str | None) -> dict:
    """Everything the data plane needs, as plain JSON-able data, in a handful of queries."""
    apis = list(
        Api.objects.filter(status=ApiStatus.ACTIVE)
        .select_related("policy")
        .prefetch_related("routes", "policy__authorization_servers")
    )
    servers: dict[int, dict] = {}
    chains = collect_chains([api.id for api in apis])
    collected = []
    for api in apis:
        policy = getattr(api, "policy", None)
        policy_data = None
        if policy is not None:
            trusted = list(policy.authorization_servers.all())
            for server in trusted:
                servers.setdefault(server.id, _server_data(server))
            policy_data = {
                "servers": [server.id for server in trusted],
                "identity_source": policy.identity_source,
                "identity_name": policy.identity_name,
                "audiences": list(policy.audiences),
                "required_scopes": list(policy.required_scopes),
                "allow_anonymous": policy.allow_anonymous,
                "forward_claims": list(policy.forward_claims.items()),
                "forward_authorization": policy.forward_authorization,
            }
        collected.append(
            {
                "id": api.id,
                "name": str(api),
                "base_path": api.base_path,
                "soap": api.kind == ApiKind.SOAP,
                "upstream_url": api.upstream_url,
                "connect_timeout": api.connect_timeout,
                "read_timeout": api.read_timeout,
                "routes": [
                    [r.id, r.method, r.path, list(r.required_scopes), r.anonymous]
                    for r in api.routes.all()
                ],
                "policy": policy_data,
                "chain": chains.get(api.id),
            }
        )
    rows = (
        Application.apis.through.objects.filter(api__status=ApiStatus.ACTIVE)
        # A stable order, so an API's applications digest the same while they are the same.
        .order_by("api_id", "application_id")
        .values_list(
            "api_id",
            "application_id",
            "application__name",
            "application__status",
            "application__identifying_claims",
            "application__oauth_client__client_id",
        )
    )
    lines = (
        json.dumps(
            [api_id, app_id, name, status == ApplicationStatus.ACTIVE, claims, client_id],
            separators=(",", ":"),
        )
        for api_id, app_id, name, status, claims, client_id in rows.iterator(chunk_size=2000)
    )
    applications = "\n".join(lines)
    return {
        "format": SNAPSHOT_FORMAT,
        "version": version,
        "servers": list(servers.values()),
        "apis": collected,
        "applications": applications,
        "application_digests": application_digests(applications),
        "traffic": collect_limits(),
    }


def application_rows(snapshot: dict) -> Iterator[list]:
    """The snapshot's application rows, decoded one at a time.

    They travel as one text of JSON lines rather than a list of lists: a compile then
    never holds 100,000 decoded rows at once, whose small objects, freed after the
    build, would stay interleaved with the index's strings and keep tens of MB of
    heap resident in every worker.
    """
    for line in io.StringIO(snapshot["applications"]):
        yield json.loads(line)


def _server_data(server) -> dict:
    return {
        "id": server.id,
        "name": server.name,
        "issuer": server.issuer,
        "allowed_algorithms": list(server.allowed_algorithms),
        "leeway_seconds": server.leeway_seconds,
        # Our own issuer always signs typ at+jwt (RFC 9068): require it whatever the field says.
        "required_typ": (
            "at+jwt" if server.kind == ServerKind.INTERNAL else server.required_typ.lower()
        ),
        "internal": server.kind == ServerKind.INTERNAL,
        "jwks_refresh_seconds": server.jwks_refresh_seconds,
        "max_stale_seconds": server.max_stale_seconds,
    }


def compile_snapshot(snapshot: dict, previous: GatewayConfig | None = None) -> GatewayConfig:
    """The look-up structures of a snapshot; no database query. APIs whose sources are
    the same as in `previous` keep their compiled form (proxy/incremental.py)."""
    servers = {data["id"]: _server_config(data) for data in snapshot["servers"]}
    sources = source_keys(snapshot)
    reused = reusable_apis(sources, previous)
    applications = _application_indexes(snapshot, servers, skip=reused.keys())
    compiled, kept = {}, {}
    for api in snapshot["apis"]:
        kept_api = reused.get(api["id"])
        if kept_api is not None:
            # Routes and applications kept; the policy is made again around this compile's
            # server objects: the key store re-reads a server's keys when its object changes
            # (authservers/keystore.py), which is how a key revocation takes effect at once.
            compiled_api = replace(kept_api, policy=_policy_config(api["policy"], servers))
        else:
            compiled_api = _compile_api(api, servers, applications.get(api["id"]))
        compiled[tuple(split_path(api["base_path"]))] = compiled_api
        if sources:
            kept[api["id"]] = (sources[api["id"]], compiled_api)
    depth = max((len(key) for key in compiled), default=0)
    return GatewayConfig(
        version=snapshot["version"],
        apis=compiled,
        max_depth=depth,
        traffic=compile_limits(snapshot.get("traffic")),
        sources=kept,
    )


def _application_indexes(
    snapshot: dict, servers: dict[int, "ServerConfig"], skip=frozenset()
) -> dict[int, ApplicationIndex]:
    """Every association of an active API into the compact indexes.

    With 100,000 applications, model instances would cost hundreds of MB at build
    time (memory CPython keeps afterwards); the snapshot's rows go straight into the
    compact index instead.
    """
    # An application's own client_id identifies it to the internal issuer without
    # extra claims (docs/architecture.md, REST admin API); bound to internal servers, so
    # an external IdP minting a token with that client_id cannot impersonate it.
    internal = {data["id"] for data in snapshot["servers"] if data["internal"]}
    internal_issuers = {
        api["id"]: [servers[s].issuer for s in api["policy"]["servers"] if s in internal]
        for api in snapshot["apis"]
        if api["policy"] is not None
    }
    table = ApplicationTable()
    indexes: dict[int, ApplicationIndex] = {}
    for api_id, app_id, name, active, claims, client_id in application_rows(snapshot):
        if api_id in skip:
            continue
        row = table.row(app_id, name, active)
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
    api: dict, servers: dict[int, ServerConfig], applications: ApplicationIndex | None
) -> ApiConfig:
    routes = [
        RouteConfig(route_id, method, path, frozenset(scopes), anonymous)
        for route_id, method, path, scopes, anonymous in api["routes"]
    ]
    policy_config = _policy_config(api["policy"], servers)
    return ApiConfig(
        id=api["id"],
        name=api["name"],
        base_path=api["base_path"],
        soap=api["soap"],
        upstream=Upstream.parse(api["upstream_url"]),
        connect_timeout=api["connect_timeout"],
        read_timeout=api["read_timeout"],
        routes=RouteTrie(routes),
        policy=policy_config,
        applications=applications or EMPTY_INDEX,
        chain=compile_chain(api["id"], api.get("chain"), _reserved_headers(api["policy"])),
    )


def _reserved_headers(policy: dict | None) -> frozenset[str]:
    """Request headers only the API's policy writes: claim headers, and the token's
    header when the policy keeps it from the upstream (proxy/stages/transform.py)."""
    if policy is None:
        return frozenset()
    names = {header.lower() for _, header in policy["forward_claims"]}
    if policy["identity_source"] == "header" and not policy["forward_authorization"]:
        names.add(policy["identity_name"].lower())
    return frozenset(names)


def _policy_config(policy: dict | None, servers: dict[int, ServerConfig]) -> PolicyConfig | None:
    if policy is None:
        return None
    trusted = [servers[server_id] for server_id in policy["servers"]]
    return PolicyConfig(
        servers_by_issuer={server.issuer: server for server in trusted},
        identity_source=policy["identity_source"],
        identity_name=policy["identity_name"],
        audiences=frozenset(policy["audiences"]),
        required_scopes=frozenset(policy["required_scopes"]),
        allow_anonymous=policy["allow_anonymous"],
        forward_claims=tuple(tuple(pair) for pair in policy["forward_claims"]),
        forward_authorization=policy["forward_authorization"],
    )


def _server_config(data: dict) -> ServerConfig:
    allowed = frozenset(data["allowed_algorithms"])
    return ServerConfig(
        id=data["id"],
        name=data["name"],
        issuer=data["issuer"],
        allowed_algorithms=allowed,
        leeway_seconds=data["leeway_seconds"],
        required_typ=data["required_typ"],
        keys=ServerKeyPolicy(
            id=data["id"],
            name=data["name"],
            allowed_algorithms=allowed,
            jwks_refresh_seconds=data["jwks_refresh_seconds"],
            max_stale_seconds=data["max_stale_seconds"],
        ),
    )


class SnapshotUnavailable(Exception):
    """A node without a database: the announced version's snapshot is not in Redis."""


def compile_and_share(version: str) -> tuple[dict, bytes]:
    """Compile `version` from the database, count it, and share it through Redis."""
    snapshot = collect_snapshot(version)
    config_bus.count_compile()
    logger.info("Compiled config snapshot %s", version)
    encoded = snapshot_store.encode(snapshot)
    config_bus.store_snapshot(version_number(version), encoded)
    return snapshot, encoded


def share_before_announcing(version: str) -> None:
    """The writer compiles the version it committed, before announcing it
    (core/config_bus.py before_announce), unless another process claimed it."""
    if settings.REDIS_URL and config_bus.claim_compile(version_number(version)):
        compile_and_share(version)


def _is_snapshot_of(snapshot: dict | None, version: str) -> bool:
    """A snapshot this code can compile (one written by an older release is not) of `version`."""
    return (
        snapshot is not None
        and snapshot.get("format") == SNAPSHOT_FORMAT
        and snapshot.get("version") == version
    )


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
        self._from_database = False
        self.listeners: list = []  # called after each rebuild (e.g. to drop token caches)
        self.rebuilds = 0  # configs installed by this process (tests count them)
        # Announced versions wait here for the one rebuild thread (proxy/rebuilds.py).
        self._rebuilds = BackgroundRebuilds(self)

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

    def current_nowait(self) -> GatewayConfig:
        """The config now, never waiting for a rebuild (the token inspector): a due version
        check runs in the background. Only a process's very first load waits."""
        config = self._config
        if config is None:
            return self.current()
        if time.monotonic() - self._checked_at >= settings.GATEWAY_CONFIG_POLL_SECONDS:
            self._checked_at = time.monotonic()
            self._rebuilds.request(None)
        return config

    def announced(self, version: str | None) -> None:
        """A version announced on the bus (None: (re)connected, catch up by polling).

        Returns at once: the rebuild runs in one background thread, and announcements
        arriving while it runs coalesce into one more rebuild (to the newest version)."""
        if self._config is None:
            return
        if version is not None and version_number(version) <= version_number(self._config.version):
            return
        self._rebuilds.request(version)

    def rebuild_to_latest(self, announced: str | None) -> None:
        """Serve the newest version known now: `announced`, or the shared pointer if it is
        further ahead (a burst's later versions are already there), in one rebuild."""
        with self._lock:
            self._checked_at = time.monotonic()
            try:
                latest = read_config_version()
            finally:
                release_connection()
            best = max((announced, latest), key=version_number)
            if best is not None:
                self._move_to(best)

    def _check(self) -> None:
        self._checked_at = time.monotonic()
        try:
            # A worker's first load asks the database, the truth: a shared pointer can be
            # ahead of it (a restored database, a stale writer) and versions never go back.
            first = self._config is None
            version = (first and database_version()) or read_config_version()
        finally:
            release_connection()
        if version is None:
            if self._config is None:
                self._start_from_file()
            return
        self._move_to(version)

    def _move_to(self, version: str) -> None:
        """Serve `version` if it is newer than ours; never go back to an older one."""
        if self._config is not None and version_number(version) <= version_number(
            self._config.version
        ):
            return
        try:
            snapshot, encoded = self._find_snapshot(version)
        except Exception:
            if self._config is not None:
                # The database is unreachable: keep serving what we know.
                logger.exception("Could not load config %s; serving the previous one", version)
                return
            if self._start_from_file():
                return
            raise
        finally:
            release_connection()
        self._install(compile_snapshot(snapshot, self._config))
        if encoded is not None:
            # After the swap: the file is for a restart during an outage, not for this call.
            snapshot_store.write_file(snapshot, encoded)

    def _find_snapshot(self, version: str) -> tuple[dict, bytes | None]:
        """The snapshot of `version` (from Redis, else the local file, else compiled once)
        and its encoded form when the local file should be brought up to date with it."""
        if self._from_database:
            self._from_database = False
            return collect_snapshot(version), None  # not shared: its version label is not new
        number = version_number(version)
        encoded = config_bus.load_snapshot(number)
        found = snapshot_store.decode(encoded)
        if _is_snapshot_of(found, version):
            return found, encoded
        found = snapshot_store.read_file()
        if _is_snapshot_of(found, version):
            return found, None
        compiles_here = settings.GATEWAY_HAS_DATABASE and config_bus.claim_compile(number)
        if not compiles_here:
            # Another process (the writer, a Celery task, another worker) compiles it.
            deadline = time.monotonic() + COMPILE_WAIT_SECONDS
            while time.monotonic() < deadline:
                time.sleep(0.02)
                encoded = config_bus.load_snapshot(number)
                found = snapshot_store.decode(encoded)
                if _is_snapshot_of(found, version):
                    return found, encoded
            if not settings.GATEWAY_HAS_DATABASE:
                raise SnapshotUnavailable(f"No snapshot of config {version} in Redis yet")
        return compile_and_share(version)

    def _start_from_file(self) -> bool:
        """No version source answers (database and Redis down): the last good snapshot."""
        snapshot = snapshot_store.read_file()
        if snapshot is None or snapshot.get("format") != SNAPSHOT_FORMAT:
            return False
        logger.warning(
            "Shared services unavailable: starting from the config snapshot file (version %s)",
            snapshot.get("version"),
        )
        self._install(compile_snapshot(snapshot))
        return True

    def _install(self, config: GatewayConfig) -> None:
        if self._config is not None and version_number(config.version) < version_number(
            self._config.version
        ):
            return
        self._config = config
        self.rebuilds += 1
        for listener in self.listeners:
            listener()
        # The compiled config is long-lived: move it out of the cyclic GC's generations so
        # collections on the hot path don't traverse 100,000 application entries each time.
        gc.collect()
        gc.freeze()
        return_free_memory_to_os()

    def invalidate(self) -> None:
        """Forget the config and rebuild it from the database on next use, even for a
        version already compiled (a change whose version was not announced)."""
        with self._lock:
            self._config = None
            self._checked_at = 0.0
            self._from_database = True


config_holder = ConfigHolder()
