"""Per-process verification keys of every trusted server.

Each worker keeps parsed keys in memory and looks at the shared snapshot (cache,
then DB) at most every GATEWAY_KEYS_POLL_SECONDS. An unknown kid may trigger one
single-flight refresh per server per GATEWAY_KID_REFRESH_INTERVAL, across threads
here and across processes through a cache lock. A bad signature never does.

A worker also re-reads a server's snapshot as soon as its gateway config was
rebuilt (the config version moved), without waiting for the poll: a rebuilt
config hands in new ServerKeyPolicy objects. That is how a revoked key stops
verifying in every worker within the config poll interval.
"""

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from authservers import keysets
from authservers.jwks import KeyRejected, algorithms_for_key, import_public_key
from core.db import release_connection
from core.hot_settings import hot

logger = logging.getLogger(__name__)


class NeedsBlockingIO(Exception):
    """Raised on the data plane's event loop where the answer needs a fetch or a DB read.

    The caller re-runs the whole decision in a worker thread, where blocking is
    allowed; every other request on the loop carries on meanwhile.
    """


def _blocking_forbidden() -> bool:
    """True on a thread that is running an event loop: the key store never blocks there."""
    return asyncio._get_running_loop() is not None


class KeysUnavailable(Exception):
    """No usable keys: never fetched, or older than the server's max_stale_seconds."""

    def __init__(self, message: str, retry_after: int = 30):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class VerificationKey:
    kid: str | None
    algorithms: frozenset[str]
    public_key: object


@dataclass(frozen=True)
class KeySet:
    version: str
    fetched_at: float  # wall-clock time of the last good fetch
    keys: tuple[VerificationKey, ...]
    by_kid: dict[str, VerificationKey]

    def candidates(self, kid: str | None, alg: str) -> list[VerificationKey]:
        """Keys for this kid and alg; without a kid, every key bound to that alg."""
        if kid is not None:
            key = self.by_kid.get(kid)
            return [key] if key is not None and alg in key.algorithms else []
        return [key for key in self.keys if alg in key.algorithms]


@dataclass(frozen=True, slots=True)
class ServerKeyPolicy:
    """What the key store needs to know about a server (a slice of its config)."""

    id: int
    name: str
    allowed_algorithms: frozenset[str]
    jwks_refresh_seconds: int
    max_stale_seconds: int


@dataclass
class _Entry:
    keyset: KeySet | None = None
    checked_at: float = 0.0
    # The policy object of the config the keys were last read for (compared by identity).
    policy: ServerKeyPolicy | None = None
    # When each kind of fetch last started: "missing" (no keys at all), "kid" (unknown kid),
    # "background" (keys getting old). Separate clocks, so a boot-time fetch does not
    # block the first key rotation, while each kind stays rate-limited on its own.
    last_refresh: dict[str, float] = field(default_factory=dict)
    background_started: float = -1e9
    reloading: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def build_keyset(payload: dict, allowed: frozenset[str]) -> KeySet:
    keys = []
    for jwk_dict in payload["keys"]:
        algorithms = algorithms_for_key(jwk_dict, allowed)
        if not algorithms:
            continue
        try:
            public_key = import_public_key(jwk_dict)
        except KeyRejected:
            continue
        keys.append(VerificationKey(jwk_dict.get("kid"), algorithms, public_key))
    by_kid = {key.kid: key for key in keys if key.kid is not None}
    return KeySet(payload["version"], payload["fetched_at"], tuple(keys), by_kid)


class KeyStore:
    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._entries_lock = threading.Lock()

    def _entry(self, server_id: int) -> _Entry:
        entry = self._entries.get(server_id)
        if entry is None:
            with self._entries_lock:
                entry = self._entries.setdefault(server_id, _Entry())
        return entry

    def keyset(self, server: ServerKeyPolicy) -> KeySet:
        entry = self._entry(server.id)
        now = time.monotonic()
        if (
            entry.keyset is None
            or entry.policy is not server
            or now - entry.checked_at >= hot.GATEWAY_KEYS_POLL_SECONDS
        ):
            if not _blocking_forbidden():
                entry.policy = server
                self._reload(server, entry)
            elif entry.keyset is None or entry.policy is not server:
                # Never loaded, or the config was rebuilt (a key may have been revoked):
                # read the snapshot now, in a thread, before trusting these keys again.
                raise NeedsBlockingIO
            else:
                self._reload_in_background(server, entry)
        keyset = entry.keyset
        if keyset is None:
            self._refresh_now(server, entry, "missing", settings.GATEWAY_KID_REFRESH_INTERVAL)
            keyset = entry.keyset
            if keyset is None:
                raise KeysUnavailable(f"No keys of {server.name} could be fetched yet.")
        age = time.time() - keyset.fetched_at
        if age > server.max_stale_seconds:
            self._refresh_in_background(server, entry)
            raise KeysUnavailable(
                f"The keys of {server.name} are {int(age)} s old, beyond its staleness limit."
            )
        if age > 2 * server.jwks_refresh_seconds:
            # Celery beat keeps keys fresh; this covers the embedded mode and a stalled beat.
            self._refresh_in_background(server, entry)
        return keyset

    def refresh_for_unknown_kid(self, server: ServerKeyPolicy) -> KeySet | None:
        entry = self._entry(server.id)
        if _blocking_forbidden():
            if entry.lock.locked():
                raise NeedsBlockingIO  # a fetch is under way: wait for its keys in a thread
            last = entry.last_refresh.get("kid", -1e9)
            if time.monotonic() - last < settings.GATEWAY_KID_REFRESH_INTERVAL:
                return entry.keyset  # rate-limited: nothing to wait for
            raise NeedsBlockingIO
        self._refresh_now(server, entry, "kid", settings.GATEWAY_KID_REFRESH_INTERVAL)
        return entry.keyset

    def forget(self) -> None:
        with self._entries_lock:
            self._entries.clear()

    def _reload(self, server: ServerKeyPolicy, entry: _Entry) -> None:
        entry.checked_at = time.monotonic()
        try:
            payload = keysets.read_snapshot(server.id)
        except Exception:
            logger.warning("Could not read the key snapshot of %s", server.name, exc_info=True)
            return
        finally:
            release_connection()
        self._install(server, entry, payload)

    def _reload_in_background(self, server: ServerKeyPolicy, entry: _Entry) -> None:
        if entry.reloading:
            return
        entry.reloading = True
        entry.checked_at = time.monotonic()  # one reload per poll interval, not one per request

        def reload() -> None:
            try:
                self._reload(server, entry)
            finally:
                entry.reloading = False

        threading.Thread(target=reload, name=f"jwks-reload-{server.id}", daemon=True).start()

    def _install(self, server: ServerKeyPolicy, entry: _Entry, payload: dict | None) -> None:
        if payload is None:
            return
        current = entry.keyset
        if current is not None and current.version == payload["version"]:
            if payload["fetched_at"] != current.fetched_at:
                entry.keyset = KeySet(
                    current.version, payload["fetched_at"], current.keys, current.by_kid
                )
            return
        entry.keyset = build_keyset(payload, server.allowed_algorithms)

    def _refresh_now(
        self, server: ServerKeyPolicy, entry: _Entry, reason: str, min_interval: float
    ) -> None:
        """Single-flight: one thread fetches, the others wait and use its result."""
        started = time.monotonic()
        with entry.lock:
            last = entry.last_refresh.get(reason, -1e9)
            if last >= started or started - last < min_interval:
                return  # another thread just refreshed, or we are rate-limited
            entry.last_refresh[reason] = time.monotonic()
            if not _claim_shared_refresh(server.id, reason, min_interval):
                # Another worker refreshed moments ago: take its result from the cache.
                self._reload(server, entry)
                return
            try:
                outcome = keysets.refresh_jwks_by_id(server.id)
                if outcome is not None and outcome.ok:
                    self._reload(server, entry)
            except Exception:
                logger.exception("On-demand key refresh of %s failed", server.name)
            finally:
                release_connection()

    def _refresh_in_background(self, server: ServerKeyPolicy, entry: _Entry) -> None:
        now = time.monotonic()
        if now - entry.background_started < settings.GATEWAY_KID_REFRESH_INTERVAL:
            return
        entry.background_started = now
        threading.Thread(
            target=self._refresh_now,
            args=(server, entry, "background", settings.GATEWAY_KID_REFRESH_INTERVAL),
            name=f"jwks-refresh-{server.id}",
            daemon=True,
        ).start()


def _claim_shared_refresh(server_id: int, reason: str, interval: float) -> bool:
    """At most one worker per interval fetches for a given reason."""
    key = f"gatekeep:jwks-refresh:{reason}:{server_id}"
    try:
        return bool(cache.add(key, 1, timeout=max(1, int(interval))))
    except Exception:
        return True  # cache down: rate-limit per process only


key_store = KeyStore()
