"""How much of its limits an application has used, read from the shared counters.

The control plane reads the keys the data plane's script writes (traffic/counters.py),
with Redis's clock, so the windows are the ones the gateway counts in. Without Redis
every data-plane process counts alone and nothing here can see those counts.
"""

import logging

import redis
from django.conf import settings

from applications.models import Application
from traffic.counters import application_subject, day_window, month_window, subject_keys
from traffic.snapshot import collect_limits, compile_limits

logger = logging.getLogger(__name__)


def application_usage(application: Application) -> dict:
    """{"counters": "redis" | "process" | "unavailable", "apis": [per API with limits]}."""
    traffic = compile_limits(collect_limits())
    rows = []
    for api in application.apis.order_by("base_path"):
        api_limits = traffic.for_api(api.id)
        limits = api_limits.for_application(application.id) if api_limits else None
        if limits is not None:
            rows.append({"api": api, "limits": limits})
    counters = "redis" if settings.REDIS_URL else "process"
    readings = {}
    if rows and settings.REDIS_URL:
        try:
            readings = _read(application, rows)
        except redis.RedisError as error:
            logger.warning("Usage of %s not read: Redis unavailable (%s)", application, error)
            counters = "unavailable"
    return {
        "counters": counters,
        "apis": [_usage(row, readings.get(row["api"].id)) for row in rows],
    }


def _read(application: Application, rows: list[dict]) -> dict[int, tuple]:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        seconds, micros = client.time()
        now = seconds * 1_000_000 + micros
        day, month = day_window(seconds), month_window(seconds)
        pipe = client.pipeline(transaction=False)
        for row in rows:
            rate_key, day_key, month_key = subject_keys(
                row["api"].id, application_subject(application.id)
            )
            pipe.get(rate_key)
            pipe.get(f"{day_key}:{day}")
            pipe.get(f"{month_key}:{month}")
        values = pipe.execute()
    finally:
        client.close()
    readings = {}
    for index, row in enumerate(rows):
        tat, used_day, used_month = values[3 * index : 3 * index + 3]
        readings[row["api"].id] = (now, int(tat or 0), int(used_day or 0), int(used_month or 0))
    return readings


def _usage(row: dict, reading: tuple | None) -> dict:
    api, limits = row["api"], row["limits"]
    usage = {
        "api": api.id,
        "api_name": str(api),
        "limits": limits.as_dict(),
        "rate_remaining": None,
        "used_today": None,
        "remaining_today": None,
        "used_this_month": None,
        "remaining_this_month": None,
    }
    if reading is None:
        return usage
    now, tat, used_day, used_month = reading
    if limits.interval_us:
        ahead = max(tat, now) - now  # how far ahead of its schedule the application is
        usage["rate_remaining"] = max(0, (limits.tolerance_us - ahead) // limits.interval_us)
    # Calls are counted per day (month) only under a daily (monthly) quota.
    if limits.quota_per_day:
        usage["used_today"] = used_day
        usage["remaining_today"] = max(0, limits.quota_per_day - used_day)
    if limits.quota_per_month:
        usage["used_this_month"] = used_month
        usage["remaining_this_month"] = max(0, limits.quota_per_month - used_month)
    return usage
