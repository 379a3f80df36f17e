"""Fixed-window rate limits counted in the Django cache.

With Redis as the cache every process and node shares one count per window;
with the in-process cache each process counts alone (the embedded default).
Counting uses `cache.add` (SET NX) then `cache.incr` (INCRBY), both atomic, so
concurrent processes never lose a hit the way a get-then-set would.
"""

import hashlib
import logging
import math
from dataclasses import dataclass

from django.core.cache import cache

from core import clock

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most `limit` events per `window` seconds for one subject; 0 or less disables it."""

    name: str
    limit: int
    window: int = 60


@dataclass(frozen=True)
class Exceeded:
    limit: Limit
    retry_after: int  # whole seconds until the window ends, at least 1


def _window(limit: Limit, now: float) -> tuple[int, int]:
    start = int(now // limit.window) * limit.window
    return start, start + limit.window


def _key(limit: Limit, subject: str, start: int) -> str:
    # Subjects are client input (a client_id, an address): hash them into a safe, short key.
    digest = hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"ratelimit:{limit.name}:{start}:{digest}"


def _exceeded(limit: Limit, end: int, now: float) -> Exceeded:
    return Exceeded(limit, max(1, math.ceil(end - now)))


def hit(limit: Limit, subject: str) -> Exceeded | None:
    """Count one event for `subject`; Exceeded once the count passes the limit."""
    if limit.limit <= 0:
        return None
    now = clock.time()
    start, end = _window(limit, now)
    key = _key(limit, subject, start)
    # The key outlives its window by a second, so a late incr never restarts a count.
    timeout = limit.window + 1
    try:
        if cache.add(key, 1, timeout):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr: this hit opens a new count
                cache.add(key, 1, timeout)
                count = 1
    except Exception:
        # Fail open: a cache outage must not take the token endpoint down with it.
        logger.warning("Rate limit %s not counted: the cache is unavailable", limit.name)
        return None
    return _exceeded(limit, end, now) if count > limit.limit else None


def peek(limit: Limit, subject: str) -> Exceeded | None:
    """Exceeded if `subject` has already used up this window, without counting anything."""
    if limit.limit <= 0:
        return None
    now = clock.time()
    start, end = _window(limit, now)
    try:
        count = cache.get(_key(limit, subject, start), 0)
    except Exception:
        logger.warning("Rate limit %s not checked: the cache is unavailable", limit.name)
        return None
    return _exceeded(limit, end, now) if count >= limit.limit else None
