"""Per-process aggregation of proxied calls, flushed in the background.

The data plane counts each call once, in proxy/metrics.py's tally (one dict update
under a lock, shared with the Prometheus metrics, no I/O); the tally reaches the cells
here through `add()`, each time it is published and whenever cells are taken (the
tally is a `feeder`). `record()` adds one call directly. A background thread per
worker (proxy/observe.py) calls `flush()` every GATEWAY_ANALYTICS_FLUSH_SECONDS:
- with REDIS_URL: HINCRBY into one Redis hash per minute (analytics/redis_store.py);
  a Celery task moves them into the database, so a data-plane node needs no
  database credentials;
- without it (the embedded default): straight into the database.
A failed flush keeps its cells for the next one; nothing is written per request.
"""

import logging
import threading
import time

from django.conf import settings

from analytics import histogram, redis_store, services
from analytics.cells import Cell, Key
from core.db import release_connection

logger = logging.getLogger(__name__)


class Recorder:
    def __init__(self) -> None:
        self._cells: dict[Key, Cell] = {}
        self._lock = threading.Lock()
        # Functions that move calls counted elsewhere into the cells (proxy/metrics.py).
        self.feeders: list = []

    def record(
        self, api_id: int, application_id: int, status: int, latency_ms: float, code: str | None
    ) -> None:
        key = (int(time.time()) // 60 * 60, api_id, application_id, status // 100)
        bucket = histogram.bucket_of(latency_ms)
        with self._lock:
            cell = self._cells.get(key)
            if cell is None:
                cell = self._cells[key] = Cell()
            cell.count += 1
            cell.latency_ms_sum += latency_ms
            cell.buckets[bucket] += 1
            if code:
                cell.refusals[code] = cell.refusals.get(code, 0) + 1

    def add(
        self, key: Key, calls: int, latency_ms_sum: float, buckets: list[int], code: str | None
    ) -> None:
        """Calls already aggregated (same key, same refusal code)."""
        with self._lock:
            cell = self._cells.get(key)
            if cell is None:
                cell = self._cells[key] = Cell()
            cell.count += calls
            cell.latency_ms_sum += latency_ms_sum
            histogram.merge(cell.buckets, buckets)
            if code:
                cell.refusals[code] = cell.refusals.get(code, 0) + calls

    def feed(self) -> None:
        for feeder in self.feeders:
            feeder()

    def pending_calls(self) -> int:
        """Calls counted and not yet taken."""
        self.feed()
        with self._lock:
            return sum(cell.count for cell in self._cells.values())

    def take(self) -> dict[Key, Cell]:
        self.feed()
        with self._lock:
            cells, self._cells = self._cells, {}
        return cells

    def give_back(self, cells: dict[Key, Cell]) -> None:
        """Cells a failed flush could not write: merged back for the next attempt."""
        with self._lock:
            for key, cell in cells.items():
                mine = self._cells.get(key)
                if mine is None:
                    self._cells[key] = cell
                else:
                    mine.add(cell)

    def flush(self) -> int:
        """Write what was aggregated so far; returns the number of calls written."""
        cells = self.take()
        if not cells:
            return 0
        try:
            if settings.REDIS_URL:
                redis_store.push(cells)
            else:
                try:
                    services.merge_cells(cells)
                finally:
                    release_connection()  # the data plane holds no connection between uses
        except Exception:
            logger.warning("Traffic analytics flush failed; retrying later", exc_info=True)
            self.give_back(cells)
            return 0
        return sum(cell.count for cell in cells.values())


recorder = Recorder()
