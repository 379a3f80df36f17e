"""Counts are exact under concurrency against the production server: after N calls spread
over two data-plane workers, /metrics (admin listener) and the analytics store both say
N for that API and application, also after a worker is replaced."""

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from django.conf import settings

from analytics import services
from tests.observe.helpers import samples, value

CALLS = 240
LABELS = {
    "api": "Petstore v1",
    "route": "GET /pets",
    "application": "Petstore client",
    "status_class": "2xx",
}


def scrape(gateway) -> dict:
    response = requests.get(f"{gateway.admin_url}/metrics", timeout=10)
    assert response.status_code == 200
    return samples(response.text)


def scraped_calls(gateway, expected: float) -> float:
    """The scraped count, once every worker published (each does so every second)."""
    deadline = time.monotonic() + 10
    while True:
        found = value(scrape(gateway), "gatekeep_requests_total", **LABELS)
        if found >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def analytics_total(api_id: int, application_id: int, expected: int) -> int:
    """The store's count for the API and application, once the workers' flushes landed."""
    deadline = time.monotonic() + 20
    while True:
        if settings.REDIS_URL:
            services.ingest()  # what the Celery task does every minute
        found = services.series("hour", api_id=api_id, application_id=application_id)
        total = found["total"]["requests"]
        if total >= expected or time.monotonic() > deadline:
            return total
        time.sleep(0.2)


def test_metrics_and_analytics_count_every_call_across_workers(
    published, production_gateway, tmp_path
):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"stale file of an earlier run")
    gateway = production_gateway(
        env={
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "GATEWAY_ANALYTICS_FLUSH_SECONDS": "0.3",
        },
        workers=2,
    )
    assert not (metrics_dir / "counter_1.db").exists()  # wiped at start
    token = published.token()
    url = f"{gateway.url}/gateway/petstore/v1/pets"
    local = threading.local()

    def call(_: int) -> int:
        # A fresh connection now and then, so the kernel spreads calls over both workers.
        if getattr(local, "calls", 0) % 10 == 0:
            local.session = requests.Session()
        local.calls = getattr(local, "calls", 0) + 1
        headers = {"Authorization": f"Bearer {token}"}
        return local.session.get(url, headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(call, range(CALLS)))
    assert statuses == [200] * CALLS

    workers = gateway.worker_pids()
    assert len(workers) == 2
    served = [pid for pid in workers if (metrics_dir / f"counter_{pid}.db").exists()]
    assert len(served) == 2, "both workers should have served calls"
    assert scraped_calls(gateway, CALLS) == CALLS
    assert analytics_total(published.api.pk, published.application.pk, CALLS) == CALLS

    # A worker that goes away keeps its counts: the next scrape still adds them in.
    os.kill(workers[0], signal.SIGTERM)
    deadline = time.monotonic() + 20
    while workers[0] in gateway.worker_pids() or len(gateway.worker_pids()) < 2:
        assert time.monotonic() < deadline, "gunicorn did not replace the worker"
        time.sleep(0.1)
    found = scrape(gateway)
    assert value(found, "gatekeep_requests_total", **LABELS) == CALLS
    assert value(found, "gatekeep_upstream_duration_seconds_count", api="Petstore v1") == CALLS
    assert analytics_total(published.api.pk, published.application.pk, CALLS + 1) == CALLS
