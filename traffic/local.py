"""Counting in this process alone: without Redis (the embedded default), and while Redis is
down for APIs that fail open.

Each process gets its share of every limit (the limit divided by
GATEWAY_RATE_LIMIT_PROCESSES, at least 1), so all of them together stay within it.
Counts live in memory: they start again when the process does. The replies have the
shape of the Redis script's (traffic/counters.py).
"""

import datetime
import math
import threading
import time

from traffic.counters import DAY, MONTH, RATE, day_window, month_window
from traffic.snapshot import Limits

MAX_ENTRIES = 100_000  # beyond this, expired entries are dropped


class LocalCounters:
    def __init__(self) -> None:
        self._rate: dict[str, int] = {}  # rate key -> theoretical arrival time (µs)
        self._counts: dict[str, int] = {}  # quota key with its window -> calls
        self._lock = threading.Lock()  # the token inspector or tests may call from threads

    def hit(self, keys: tuple[str, str, str], limits: Limits, share: int) -> list[int]:
        with self._lock:
            return self._hit(keys, limits, max(1, share))

    def _hit(self, keys, limits: Limits, share: int) -> list[int]:
        wall = time.time()
        now = time.monotonic_ns() // 1000  # integers: exact sums, unlike floats
        day = day_window(wall)
        day_reset = (day + 1) * 86400 - int(wall)
        month_reset = _month_reset(wall)
        day_key = f"{keys[1]}:{day}"
        month_key = f"{keys[2]}:{month_window(wall)}"
        day_limit = _share(limits.quota_per_day, share)
        month_limit = _share(limits.quota_per_month, share)
        day_used = self._counts.get(day_key, 0)
        month_used = self._counts.get(month_key, 0)
        if day_limit and day_used >= day_limit:
            return [0, DAY, day_reset * 1000, -1, 0, day_used, day_reset, month_used, month_reset]
        if month_limit and month_used >= month_limit:
            return [0, MONTH, month_reset * 1000, -1, 0, day_used, day_reset, month_used,
                    month_reset]  # fmt: skip
        remaining, reset_ms = -1, 0
        if limits.interval_us:
            interval = limits.interval_us * share
            burst = max(1, (limits.burst or limits.rate) // share)
            tolerance = interval * burst
            tat = max(self._rate.get(keys[0], now), now)
            allow_at = tat + interval - tolerance
            if now < allow_at:
                retry = math.ceil((allow_at - now) / 1000)
                reset = math.ceil((tat - now) / 1000)
                return [0, RATE, retry, 0, reset, day_used, day_reset, month_used, month_reset]
            self._rate[keys[0]] = tat + interval
            remaining = int((now + tolerance - tat - interval) // interval)
            reset_ms = math.ceil((tat + interval - now) / 1000)
        if day_limit:
            day_used = self._counts[day_key] = day_used + 1
        if month_limit:
            month_used = self._counts[month_key] = month_used + 1
        if len(self._rate) + len(self._counts) > MAX_ENTRIES:
            self._prune(now, day_key, month_key)
        return [1, 0, 0, remaining, reset_ms, day_used, day_reset, month_used, month_reset]

    def _prune(self, now: int, day_key: str, month_key: str) -> None:
        """Drop rate states already in the past and counters of other windows."""
        self._rate = {key: tat for key, tat in self._rate.items() if tat > now}
        day_suffix = day_key.rsplit(":", 1)[1]
        month_suffix = month_key.rsplit(":", 1)[1]
        self._counts = {
            key: count
            for key, count in self._counts.items()
            if key.endswith((":" + day_suffix, ":" + month_suffix))
        }

    def clear(self) -> None:
        with self._lock:
            self._rate.clear()
            self._counts.clear()


def _share(quota: int | None, share: int) -> int:
    return max(1, quota // share) if quota else 0


def _month_reset(wall: float) -> int:
    moment = datetime.datetime.fromtimestamp(int(wall), datetime.UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    start = datetime.datetime(year, month, 1, tzinfo=datetime.UTC)
    return int(start.timestamp()) - int(wall)
