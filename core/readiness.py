"""Readiness: can this process reach the database, the cache and the Celery broker?"""

import logging

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
        logger.warning("Readiness: database unavailable", exc_info=True)
        return False


def _cache_ok() -> bool:
    try:
        cache.set("gatekeep:readyz", "1", timeout=5)
        return cache.get("gatekeep:readyz") == "1"
    except Exception:
        logger.warning("Readiness: cache unavailable", exc_info=True)
        return False


def _broker_ok() -> bool:
    if not settings.REDIS_URL:
        return True  # eager Celery: no broker to reach
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
        return True
    except Exception:
        logger.warning("Readiness: broker unavailable", exc_info=True)
        return False


def readiness() -> tuple[int, dict]:
    """(HTTP status, body) of the readiness probe; the data plane asks it too."""
    checks = {"database": _database_ok(), "cache": _cache_ok(), "broker": _broker_ok()}
    ready = all(checks.values())
    return 200 if ready else 503, {"status": "ready" if ready else "unavailable", "checks": checks}
