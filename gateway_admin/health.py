"""Liveness and readiness probes."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@require_GET
def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


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
        from gateway_admin.celery import app

        with app.connection_for_write() as conn:
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


@require_GET
def readyz(request) -> JsonResponse:
    status, payload = readiness()
    return JsonResponse(payload, status=status)
