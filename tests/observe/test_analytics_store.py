"""Traffic rollups: aggregated in memory, flushed (Redis or database), rolled up, pruned,
and read back as the series the console and the REST API show."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings

from analytics import histogram, redis_store, services
from analytics.cells import Cell
from analytics.models import HOUR, MINUTE, TrafficRollup
from analytics.recorder import Recorder, recorder
from core import config_bus

needs_redis = pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL")


def test_percentiles_interpolate_within_the_bounded_buckets():
    buckets = [0] * histogram.SIZE
    for latency in [3.0] * 50 + [40.0] * 45 + [20_000.0] * 5:
        buckets[histogram.bucket_of(latency)] += 1
    assert 2 < histogram.percentile(buckets, 0.5) <= 5
    assert 25 < histogram.percentile(buckets, 0.95) <= 50
    assert histogram.percentile(buckets, 0.99) == 10_000  # "at least the last bound"
    assert histogram.percentile([0] * histogram.SIZE, 0.5) is None


def test_recorded_calls_reach_the_database_without_redis(db, settings):
    settings.REDIS_URL = ""
    local = Recorder()
    for _ in range(7):
        local.record(5, 9, 200, 3.0, None)
    local.record(5, 9, 403, 1.0, "insufficient_scope")
    local.record(5, 0, 401, 1.0, "missing_token")
    assert local.flush() == 9
    assert local.flush() == 0  # nothing twice
    hour = services.series("hour", api_id=5)
    assert hour["total"]["requests"] == 9
    assert hour["total"]["errors"] == 2
    assert hour["total"]["error_rate"] == pytest.approx(2 / 9, abs=1e-4)
    # The current minute is the last point (the one before, if the minute just turned).
    assert sum(point["requests"] for point in hour["points"][-2:]) == 9
    assert len(hour["points"]) == 60
    assert {row["code"]: row["count"] for row in hour["top_refusals"]} == {
        "insufficient_scope": 1,
        "missing_token": 1,
    }
    assert services.series("hour", application_id=9)["total"]["requests"] == 8
    assert services.series("hour", api_id=6)["total"]["requests"] == 0


def test_a_failed_flush_keeps_its_calls_for_the_next(db, settings, monkeypatch):
    settings.REDIS_URL = ""
    local = Recorder()
    local.record(1, 1, 200, 2.0, None)

    def broken(cells, **kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr(services, "merge_cells", broken)
    assert local.flush() == 0
    monkeypatch.undo()
    local.record(1, 1, 200, 2.0, None)
    assert local.flush() == 2
    assert TrafficRollup.objects.get().count == 2


def test_minutes_become_hours_after_48_hours_and_rows_go_after_90_days(db):
    now = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
    old = int((now - timedelta(hours=50)).timestamp()) // HOUR * HOUR
    cells = {}
    for minute in range(3):
        cell = Cell(count=10, latency_ms_sum=30.0)
        cell.buckets[histogram.bucket_of(3.0)] = 10
        cell.refusals = {"invalid_token": 1}
        cells[(old + minute * MINUTE, 1, 2, 2)] = cell
    recent = int((now - timedelta(hours=1)).timestamp())
    cells[(recent // MINUTE * MINUTE, 1, 2, 2)] = Cell(count=4)
    services.merge_cells(cells)
    expired = int((now - timedelta(days=91)).timestamp()) // HOUR * HOUR
    services.merge_cells({(expired, 1, 2, 2): Cell(count=99)}, resolution=HOUR)

    rolled, deleted = services.roll_up_and_prune(now)
    assert (rolled, deleted) == (3, 1)
    hour_row = TrafficRollup.objects.get(resolution=HOUR)
    assert hour_row.start == datetime.fromtimestamp(old, tz=UTC)
    assert hour_row.count == 30
    assert hour_row.refusals == {"invalid_token": 3}
    assert hour_row.latency_buckets[histogram.bucket_of(3.0)] == 30
    assert TrafficRollup.objects.filter(resolution=MINUTE).count() == 1
    week = services.series("week", api_id=1, now=now)
    assert week["total"]["requests"] == 34  # hours and minutes read together, once each


@needs_redis
def test_with_redis_workers_push_counters_and_a_task_moves_them(db, settings):
    redis = config_bus.client()
    for name in redis.keys(redis_store._key("*")):
        redis.delete(name)
    local = Recorder()
    other = Recorder()  # another worker (or node)
    for _ in range(5):
        local.record(3, 4, 200, 7.0, None)
        other.record(3, 4, 200, 70.0, None)
    other.record(3, 4, 504, 4000.0, "upstream_timeout")
    assert local.flush() == 5
    assert other.flush() == 6
    assert TrafficRollup.objects.count() == 0  # nothing in the database until the task runs
    assert services.ingest() == 11
    assert services.ingest() == 0
    found = services.series("hour", api_id=3)["total"]
    assert found["requests"] == 11
    assert found["errors"] == 1
    assert 5 < found["p50_ms"] <= 100
    assert found["p95_ms"] > 1000
    assert redis.smembers(redis_store.pending_set()) == set()
    assert redis.smembers(redis_store.taken_set()) == set()


@needs_redis
def test_pushes_racing_the_ingest_are_never_lost(db, settings):
    import threading

    redis = config_bus.client()
    for name in redis.keys(redis_store._key("*")):
        redis.delete(name)
    stop = threading.Event()
    pushed = []

    def worker() -> None:
        local = Recorder()
        count = 0
        while not stop.is_set():
            local.record(8, 8, 200, 1.0, None)
            count += local.flush()
        pushed.append(count)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    moved = 0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        moved += services.ingest()
    stop.set()
    for thread in threads:
        thread.join()
    moved += services.ingest()
    assert moved == sum(pushed) > 10
    assert services.series("hour", api_id=8)["total"]["requests"] == sum(pushed)


def test_the_global_recorder_is_what_the_proxy_feeds(published, settings):
    settings.REDIS_URL = ""
    recorder.take()
    token = published.token()
    for _ in range(4):
        assert published.get("/pets", token).status_code == 200
    assert published.get("/pets").status_code == 401
    deadline = time.monotonic() + 5
    while recorder.pending_calls() < 5:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    recorder.flush()
    series = services.series("hour", api_id=published.api.pk)
    assert series["total"]["requests"] == 5
    assert series["top_refusals"] == [{"code": "missing_token", "count": 1}]
    by_app = services.series("hour", application_id=published.application.pk)
    assert by_app["total"]["requests"] == 4
    seen = services.last_seen([published.application.pk])[published.application.pk]
    assert (datetime.now(UTC) - seen).total_seconds() < 120


def test_the_beat_tasks_are_registered_and_run(db, settings):
    from analytics import tasks
    from gateway_admin.celery import app

    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"analytics.tasks.ingest_traffic", "analytics.tasks.roll_up_traffic"} <= schedule
    old = int(time.time()) - 60 * 86400
    services.merge_cells({(old // HOUR * HOUR, 1, 1, 2): Cell(count=3)}, resolution=HOUR)
    settings.GATEWAY_ANALYTICS_RETENTION_DAYS = 30
    assert tasks.roll_up_traffic.delay().get() == [0, 1]
    assert TrafficRollup.objects.count() == 0
    assert tasks.ingest_traffic.delay().get() >= 0
