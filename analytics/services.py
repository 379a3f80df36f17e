"""Writing rollups (from the recorder or Redis), rolling minutes into hours, pruning,
and reading the series the console and the REST API show."""

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from analytics import histogram
from analytics.cells import Cell, Key
from analytics.models import HOUR, MINUTE, TrafficRollup

logger = logging.getLogger(__name__)

WINDOWS = {
    # name: (length, number of points)
    "hour": (timedelta(hours=1), 60),
    "day": (timedelta(days=1), 48),
    "week": (timedelta(days=7), 56),
}


# --- Writing -------------------------------------------------------------------------


def merge_cells(cells: dict[Key, Cell], resolution: int = MINUTE, attempts: int = 5) -> None:
    """Add cells to their rows (created on first sight), in one transaction.

    SQLite allows one writer at a time: several workers flushing together retry.
    """
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                for (start, api_id, application_id, status_class), cell in sorted(cells.items()):
                    _add(resolution, start, api_id, application_id, status_class, cell)
            return
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def _add(resolution, start, api_id, application_id, status_class, cell: Cell) -> None:
    row, _ = TrafficRollup.objects.select_for_update().get_or_create(
        resolution=resolution,
        start=datetime.fromtimestamp(start, tz=UTC),
        api_id=api_id,
        application_id=application_id,
        status_class=status_class,
        defaults={"latency_buckets": [0] * histogram.SIZE},
    )
    row.count += cell.count
    row.latency_ms_sum += cell.latency_ms_sum
    row.latency_buckets = histogram.merge(list(row.latency_buckets), cell.buckets)
    refusals = dict(row.refusals)
    for code, count in cell.refusals.items():
        refusals[code] = refusals.get(code, 0) + count
    row.refusals = refusals
    row.save(update_fields=["count", "latency_ms_sum", "latency_buckets", "refusals"])


def ingest() -> int:
    """Move the minute hashes the data plane pushed to Redis into the database."""
    from analytics import redis_store
    from core import config_bus

    redis = config_bus.client()
    if redis is None:
        return 0
    moved = 0
    for name in redis_store.take_pending(redis):
        cells = redis_store.read_cells(redis, name)
        if cells:
            merge_cells(cells)
        redis_store.forget(redis, name)
        moved += sum(cell.count for cell in cells.values())
    return moved


def roll_up_and_prune(now: datetime | None = None) -> tuple[int, int]:
    """Minute rows older than GATEWAY_ANALYTICS_MINUTE_HOURS become hour rows; rows older
    than GATEWAY_ANALYTICS_RETENTION_DAYS go. Returns (minute rows rolled, rows deleted)."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.GATEWAY_ANALYTICS_MINUTE_HOURS)
    rolled = 0
    while True:
        with transaction.atomic():
            rows = list(
                TrafficRollup.objects.select_for_update()
                .filter(resolution=MINUTE, start__lt=cutoff)
                .order_by("start")[:5000]
            )
            if not rows:
                break
            cells: dict[Key, Cell] = {}
            for row in rows:
                hour = int(row.start.timestamp()) // HOUR * HOUR
                key = (hour, row.api_id, row.application_id, row.status_class)
                cell = cells.setdefault(key, Cell())
                cell.add(_cell_of(row))
            merge_cells(cells, resolution=HOUR)
            TrafficRollup.objects.filter(pk__in=[row.pk for row in rows]).delete()
            rolled += len(rows)
    expired = now - timedelta(days=settings.GATEWAY_ANALYTICS_RETENTION_DAYS)
    deleted, _ = TrafficRollup.objects.filter(start__lt=expired).delete()
    return rolled, deleted


def _cell_of(row: TrafficRollup) -> Cell:
    return Cell(
        count=row.count,
        latency_ms_sum=row.latency_ms_sum,
        buckets=histogram.merge([0] * histogram.SIZE, row.latency_buckets),
        refusals=dict(row.refusals),
    )


# --- Reading -------------------------------------------------------------------------


@dataclass
class Point:
    start: datetime
    requests: int = 0
    errors: int = 0
    buckets: list[int] | None = None

    def as_dict(self, minutes: float) -> dict:
        buckets = self.buckets or []
        return {
            "start": self.start.isoformat(),
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_minute": round(self.requests / minutes, 3),
            "error_rate": round(self.errors / self.requests, 4) if self.requests else None,
            "p50_ms": _round(histogram.percentile(buckets, 0.50)),
            "p95_ms": _round(histogram.percentile(buckets, 0.95)),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def series(
    window: str,
    api_id: int | None = None,
    application_id: int | None = None,
    now: datetime | None = None,
) -> dict:
    """Requests, errors (4xx and 5xx), error rate, p50/p95 over `window` ("hour", "day",
    "week"), as points and as a total, with the top refusal codes."""
    length, count = WINDOWS[window]
    step = length / count
    now = now or timezone.now()
    # The last point ends with the current minute, so the newest calls show at once.
    end = datetime.fromtimestamp((int(now.timestamp()) // MINUTE + 1) * MINUTE, tz=UTC)
    since = end - length
    rows = TrafficRollup.objects.filter(start__gte=since, start__lt=end)
    if api_id is not None:
        rows = rows.filter(api_id=api_id)
    if application_id is not None:
        rows = rows.filter(application_id=application_id)
    points = [Point(since + step * index, buckets=[0] * histogram.SIZE) for index in range(count)]
    total = Point(since, buckets=[0] * histogram.SIZE)
    refusals: dict[str, int] = {}
    fields = ("start", "status_class", "count", "latency_buckets", "refusals")
    for start, status_class, calls, buckets, codes in rows.values_list(*fields):
        index = min(int((start - since) / step), count - 1)
        for point in (points[index], total):
            point.requests += calls
            if status_class >= 4:
                point.errors += calls
            histogram.merge(point.buckets, buckets)
        for code, hits in codes.items():
            refusals[code] = refusals.get(code, 0) + hits
    minutes = step.total_seconds() / 60
    return {
        "window": window,
        "start": since.isoformat(),
        "end": end.isoformat(),
        "step_seconds": int(step.total_seconds()),
        "total": total.as_dict(length.total_seconds() / 60),
        "points": [point.as_dict(minutes) for point in points],
        "top_refusals": [
            {"code": code, "count": hits}
            for code, hits in sorted(refusals.items(), key=lambda item: (-item[1], item[0]))[:10]
        ],
    }


def last_seen(application_ids: list[int]) -> dict[int, datetime]:
    """The start of the newest minute with a call from each application."""
    from django.db.models import Max

    found = (
        TrafficRollup.objects.filter(application_id__in=application_ids)
        .values("application_id")
        .annotate(last=Max("start"))
    )
    return {row["application_id"]: row["last"] for row in found}


def api_breakdown(window: str = "hour", now: datetime | None = None) -> list[dict]:
    """Calls and errors per API over `window`, busiest first (the dashboard's table)."""
    length, _ = WINDOWS[window]
    now = now or timezone.now()
    totals: dict[int, list[int]] = {}
    rows = TrafficRollup.objects.filter(start__gte=now - length).values_list(
        "api_id", "status_class", "count"
    )
    for api_id, status_class, calls in rows:
        entry = totals.setdefault(api_id, [0, 0])
        entry[0] += calls
        if status_class >= 4:
            entry[1] += calls
    return [
        {"api_id": api_id, "requests": calls, "errors": errors}
        for api_id, (calls, errors) in sorted(totals.items(), key=lambda item: -item[1][0])
    ]


def application_breakdown(
    window: str = "day", api_id: int | None = None, now: datetime | None = None
) -> list[dict]:
    """Per application over `window`: calls, errors, and when it was last seen (ever)."""
    length, _ = WINDOWS[window]
    now = now or timezone.now()
    rows = TrafficRollup.objects.filter(start__gte=now - length).exclude(application_id=0)
    if api_id is not None:
        rows = rows.filter(api_id=api_id)
    totals: dict[int, list[int]] = {}
    for application_id, status_class, calls in rows.values_list(
        "application_id", "status_class", "count"
    ):
        entry = totals.setdefault(application_id, [0, 0])
        entry[0] += calls
        if status_class >= 4:
            entry[1] += calls
    seen = last_seen(list(totals))
    return [
        {
            "application_id": application_id,
            "requests": calls,
            "errors": errors,
            "last_seen": seen.get(application_id),
        }
        for application_id, (calls, errors) in sorted(totals.items(), key=lambda item: -item[1][0])
    ]
