"""Readiness: can this process reach the database, the cache and the Celery broker?

A failed check is logged once when the state changes (down, then back), not on
every probe: orchestrators probe every few seconds.
"""

import logging
import threading

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _cache_ok() -> bool:
    try:
        cache.set("gatekeep:readyz", "1", timeout=5)
        return cache.get("gatekeep:readyz") == "1"
    except Exception:
        return False


def _broker_ok() -> bool:
    if not settings.REDIS_URL:
        return True  # eager Celery: no broker to reach
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
        return True
    except Exception:
        return False


_last_down: set[str] | None = None
_log_lock = threading.Lock()


def _log_state_change(checks: dict[str, bool]) -> None:
    global _last_down
    down = {name for name, ok in checks.items() if not ok}
    with _log_lock:
        if down == _last_down:
            return
        previous, _last_down = _last_down, down
    if down:
        logger.warning("Readiness: unavailable: %s", ", ".join(sorted(down)))
    elif previous:
        logger.warning("Readiness: every service is back (%s)", ", ".join(sorted(previous)))


def readiness() -> tuple[int, dict]:
    """(HTTP status, body) of the readiness probe of the control plane.

    The data plane (proxy/asgi.py) asks it too, and answers 200 "degraded" instead
    of 503 while it can serve from its in-memory config.
    """
    checks = {"database": _database_ok(), "cache": _cache_ok(), "broker": _broker_ok()}
    if not settings.GATEWAY_HAS_DATABASE:
        del checks["database"]  # a data-plane node without one: nothing to reach
    _log_state_change(checks)
    ready = all(checks.values())
    return 200 if ready else 503, {"status": "ready" if ready else "unavailable", "checks": checks}
