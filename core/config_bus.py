"""Config versions and compiled snapshots shared through Redis.

Keys (under the cache's KEY_PREFIX, "gatekeep" by default):

    <prefix>:config:current          "<number>.<hash>", only ever moved forward
    <prefix>:config:snapshot:<n>     the compiled snapshot of version n (proxy/snapshot.py)
    <prefix>:config:compiling:<n>    held by the one process compiling version n
    <prefix>:config:compiles         how many snapshots were compiled (tests, operations)
    channel <prefix>:config          "<number>.<hash>", published on every change

Everything here is best effort: Redis being down (or absent: no REDIS_URL) makes
each call a no-op or None, and the database is the fallback (core/config_version.py).
"""

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings

from core.config_publisher import Publisher

logger = logging.getLogger(__name__)

SNAPSHOT_TTL_SECONDS = 7 * 24 * 3600
_clients: dict[str, object] = {}
_clients_lock = threading.Lock()

# Moves the pointer only forward: an announcement that lost a race never wins.
_ANNOUNCE_IF_NEWER = """
local current = redis.call('GET', KEYS[1])
if current then
  local n = tonumber(string.match(current, '^(%d+)%.'))
  if n and n >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""


def _prefix() -> str:
    return settings.CACHES["default"].get("KEY_PREFIX") or "gatekeep"


def key(name: str) -> str:
    return f"{_prefix()}:config:{name}"


def channel() -> str:
    """The announcement channel. Redis pub/sub ignores database numbers, so the channel
    names the database: gateways sharing one Redis on different databases (separate
    installations, parallel test runs) never hear each other's versions."""
    return f"{_prefix()}:config:db{_database_number()}"


def _database_number() -> int:
    found = re.search(r"/(\d+)/?$", urlsplit(settings.REDIS_URL or "").path or "")
    return int(found.group(1)) if found else 0


def client(timeout: float = 1.0):
    """A Redis client of REDIS_URL (one per URL and process), or None without Redis."""
    url = settings.REDIS_URL
    if not url:
        return None
    found = _clients.get(url)
    if found is None:
        import redis

        with _clients_lock:
            found = _clients.setdefault(
                url,
                redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout),
            )
    return found


def _best_effort(what: str, call: Callable, default=None):
    redis = client()
    if redis is None:
        return default
    try:
        return call(redis)
    except Exception:
        logger.warning("Redis unavailable: could not %s", what)
        return default


def announce(version: str, number: int) -> None:
    """After a commit: move the pointer (if newer) and tell every subscribed worker."""

    def run(redis) -> None:
        redis.eval(_ANNOUNCE_IF_NEWER, 1, key("current"), number, version)
        redis.publish(channel(), version)

    _best_effort("announce the config version; workers poll the database", run)


# Run by the committing process before a version is announced: proxy/apps.py registers
# the snapshot compiler, so the snapshot is in Redis before any worker hears of it and a
# data-plane node without a database finds it there (compile once, by the writer).
before_announce: list[Callable[[str], None]] = []


def publish(version: str, number: int) -> None:
    """Prepare (compile and share the snapshot), then announce a committed version.

    In the control plane's server (conf/admin.py sets PUBLISH_IN_BACKGROUND_ENV) this runs
    in the background publisher (core/config_publisher.py): compiling 100,000 applications
    takes seconds that an admin's request should not wait for (issue 21), and versions
    committed while it compiles coalesce: only the newest is compiled and announced next.
    """
    if os.environ.get(PUBLISH_IN_BACKGROUND_ENV, "").lower() != "true":
        _publish_now(version, number)
        return
    publisher.submit(version, number)


PUBLISH_IN_BACKGROUND_ENV = "GATEWAY_CONFIG_PUBLISH_IN_BACKGROUND"


def _publish_now(version: str, number: int) -> None:
    for prepare in before_announce:
        try:
            prepare(version)
        except Exception:
            logger.exception("Could not prepare config %s before announcing it", version)
    announce(version, number)


publisher = Publisher(_publish_now)


def announce_if_newer(version: str, number: int) -> None:
    _best_effort(
        "record the config version",
        lambda redis: redis.eval(_ANNOUNCE_IF_NEWER, 1, key("current"), number, version),
    )


def announced_version() -> str | None:
    value = _best_effort("read the config version", lambda redis: redis.get(key("current")))
    return value.decode() if value is not None else None


def store_snapshot(number: int, data: bytes) -> None:
    _best_effort(
        "store the config snapshot",
        lambda redis: redis.set(key(f"snapshot:{number}"), data, ex=SNAPSHOT_TTL_SECONDS),
    )


def load_snapshot(number: int) -> bytes | None:
    return _best_effort(
        "load the config snapshot", lambda redis: redis.get(key(f"snapshot:{number}"))
    )


def has_snapshot(number: int) -> bool:
    return bool(
        _best_effort("look for the config snapshot", lambda r: r.exists(key(f"snapshot:{number}")))
    )


def claim_compile(number: int, seconds: int = 30) -> bool:
    """True for the one process that compiles version `number` (everyone, without Redis)."""
    claimed = _best_effort(
        "claim the config compile",
        lambda redis: redis.set(key(f"compiling:{number}"), "1", nx=True, ex=seconds),
        default=True,
    )
    return bool(claimed)


def count_compile() -> None:
    _best_effort("count the config compile", lambda redis: redis.incr(key("compiles")))


def compiles() -> int:
    value = _best_effort("read the compile count", lambda redis: redis.get(key("compiles")))
    return int(value) if value is not None else 0


def redis_ok() -> bool | None:
    """None without Redis; else whether it answers."""
    return (
        _best_effort("ping", lambda redis: bool(redis.ping()), default=False)
        if (settings.REDIS_URL)
        else None
    )


def listen(on_version: Callable[[str | None], None], stop: threading.Event) -> None:
    """Call `on_version(version)` for every announcement until `stop` is set.

    Reconnects with a backoff (0.2 s doubling up to 10 s); after each (re)connect it
    calls `on_version(None)`, so the caller catches up on what it may have missed.
    """
    import redis as redis_module

    url = settings.REDIS_URL
    if not url:
        return
    backoff = 0.2
    while not stop.is_set():
        connection = redis_module.Redis.from_url(
            url, socket_connect_timeout=1, socket_timeout=None, health_check_interval=10
        )
        pubsub = connection.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(channel())
            backoff = 0.2
            on_version(None)
            while not stop.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message and message["type"] == "message":
                    on_version(message["data"].decode())
        except Exception:
            logger.warning("Config announcements unavailable; retrying in %.1f s", backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)
        finally:
            try:
                pubsub.close()
                connection.close()
            except Exception:  # noqa: S110 - closing a broken connection
                pass
        time.sleep(0)
