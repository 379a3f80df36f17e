"""Prometheus metrics of the data plane, correct across worker processes.

`manage.py serve` points PROMETHEUS_MULTIPROC_DIR at a fresh directory for both
planes; every worker writes its values there (prometheus-client's multiprocess
mode) and whichever process answers /metrics adds them up. Without the variable
(tests in one process, runserver) the ordinary in-process registry is used.

Every label value comes from the compiled config or a closed vocabulary: the API
name, the route template (method + path template), the application name, the
status class ("2xx"), the problem code. A request's raw path, method, token or
subject never becomes a label, so hostile input cannot create series
(tests/observe/test_metrics_cardinality.py).
"""

import hmac
import ipaddress
import os
import threading
import time
from bisect import bisect_left

from django.conf import settings
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

disable_created_metrics()  # no *_created series: one series per counter child is enough
NONE = "-"  # no API / route / application matched
# Seconds; the gateway's own share is small, the upstream's wide.
GATEWAY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
UPSTREAM_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}

REQUESTS = Counter(
    "gatekeep_requests",
    "Proxied calls answered, by API, route template, application and status class.",
    ["api", "route", "application", "status_class"],
)
REFUSALS = Counter(
    "gatekeep_refusals", "Calls the gateway answered with a problem, by code.", ["api", "code"]
)
GATEWAY_SECONDS = Histogram(
    "gatekeep_gateway_duration_seconds",
    "Time spent in the gateway per call (total minus the wait for the upstream's answer).",
    ["api"],
    buckets=GATEWAY_BUCKETS,
)
UPSTREAM_SECONDS = Histogram(
    "gatekeep_upstream_duration_seconds",
    "Time from sending the request upstream to its response head.",
    ["api"],
    buckets=UPSTREAM_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "gatekeep_upstream_errors",
    "Upstream calls that failed: kind is timeout or unavailable.",
    ["api", "kind"],
)
TOKEN_CACHE = Counter(
    "gatekeep_token_cache", "Verified-token cache lookups, by result (hit, miss).", ["result"]
)
CONFIG_VERSION = Gauge(
    "gatekeep_config_version",
    "Config version number the workers serve (highest across workers).",
    multiprocess_mode="max",
)
CONFIG_OLDEST_VERSION = Gauge(
    "gatekeep_config_version_min",
    "Config version number of the most lagging live worker.",
    multiprocess_mode="livemin",
)
CONFIG_BUILT = Gauge(
    "gatekeep_config_built_timestamp_seconds",
    "When a worker last swapped in a compiled config (Unix time, newest across workers).",
    multiprocess_mode="max",
)

# The hot path adds to plain numbers under one lock; `publish()` (each worker's
# housekeeping thread, every GATEWAY_METRICS_PUBLISH_SECONDS, and before any scrape this
# process answers) moves them into prometheus-client's values. In multiprocess mode each
# of those is a locked write to a memory-mapped file: five per call, done once per second.
_GATEWAY_BOUNDS = [*GATEWAY_BUCKETS, float("inf")]
_UPSTREAM_BOUNDS = [*UPSTREAM_BUCKETS, float("inf")]
_pending: dict[tuple, list] = {}
_pending_lock = threading.Lock()
_children: dict[tuple, tuple] = {}
_refusal_children: dict[tuple, object] = {}


def _new_pending() -> list:
    # [calls, gateway sum, gateway buckets, upstream sum, upstream buckets]
    return [0, 0.0, [0] * len(_GATEWAY_BOUNDS), 0.0, [0] * len(_UPSTREAM_BOUNDS)]


def observe(
    api: str,
    route: str,
    application: str,
    status: int,
    code: str | None,
    gateway_seconds: float,
    upstream_seconds: float | None,
) -> None:
    key = (api, route, application, STATUS_CLASSES.get(status // 100, "other"))
    with _pending_lock:
        entry = _pending.get(key)
        if entry is None:
            entry = _pending[key] = _new_pending()
        entry[0] += 1
        entry[1] += gateway_seconds
        entry[2][bisect_left(_GATEWAY_BOUNDS, gateway_seconds)] += 1
        if upstream_seconds is not None:
            entry[3] += upstream_seconds
            entry[4][bisect_left(_UPSTREAM_BOUNDS, upstream_seconds)] += 1
    if code:
        refusal = _refusal_children.get((api, code))
        if refusal is None:
            refusal = _refusal_children[(api, code)] = REFUSALS.labels(api, code)
        refusal.inc()
        if code == "upstream_timeout":
            UPSTREAM_ERRORS.labels(api, "timeout").inc()
        elif code == "upstream_unavailable":
            UPSTREAM_ERRORS.labels(api, "unavailable").inc()


def publish() -> None:
    """Move what the hot path counted into the exported values."""
    global _pending
    with _pending_lock:
        pending, _pending = _pending, {}
    for key, (calls, gateway_sum, gateway, upstream_sum, upstream) in pending.items():
        children = _children.get(key)
        if children is None:
            api = key[0]
            children = _children[key] = (
                REQUESTS.labels(*key),
                GATEWAY_SECONDS.labels(api),
                UPSTREAM_SECONDS.labels(api),
            )
        requests, gateway_child, upstream_child = children
        requests.inc(calls)
        _add_to_histogram(gateway_child, gateway_sum, gateway)
        if any(upstream):
            _add_to_histogram(upstream_child, upstream_sum, upstream)


def _add_to_histogram(child, total: float, buckets: list[int]) -> None:
    # Histogram.observe() one value at a time, in bulk: the same sum and bucket values
    # (prometheus-client keeps them in `_sum` and `_buckets`, non-cumulative).
    child._sum.inc(total)
    for index, count in enumerate(buckets):
        if count:
            child._buckets[index].inc(count)


def forget_children() -> None:
    """After a config change: names may have changed; children are looked up afresh."""
    _children.clear()
    _refusal_children.clear()


_token_cache_seen = [0, 0]


def publish_token_cache(hits: int, misses: int) -> None:
    """Add what the verified-token cache counted since the last call."""
    TOKEN_CACHE.labels("hit").inc(max(0, hits - _token_cache_seen[0]))
    TOKEN_CACHE.labels("miss").inc(max(0, misses - _token_cache_seen[1]))
    _token_cache_seen[:] = [hits, misses]


def config_swapped(version_number: int) -> None:
    CONFIG_VERSION.set(version_number)
    CONFIG_OLDEST_VERSION.set(version_number)
    CONFIG_BUILT.set(time.time())


# --- Exposition ------------------------------------------------------------------------


def allowed(peer: str, authorization: str) -> bool:
    """A scraper with the bearer token, or one connecting from an allowed address."""
    token = settings.GATEWAY_METRICS_TOKEN
    if token and authorization.startswith("Bearer "):
        return hmac.compare_digest(authorization[7:].strip().encode(), token.encode())
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    for network in settings.GATEWAY_METRICS_ALLOW:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def render(extra_collectors=()) -> tuple[bytes, str]:
    """The exposition text of every process (multiprocess mode) or of this one."""
    publish()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    for collector in extra_collectors:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Default:
    """The process's own registry, re-exposed next to the per-scrape collectors."""

    def collect(self):
        yield from REGISTRY.collect()


class IssuerCollector:
    """Per-issuer key-set facts, read from the database at scrape time (admin plane):
    the same for every worker and node, and known even when no call needed the keys."""

    def __init__(self, rows: list[dict]):
        self.rows = rows

    def collect(self):
        now = time.time()
        keys = GaugeMetricFamily(
            "gatekeep_issuer_keys", "Keys in the issuer's last good key set.", labels=["issuer"]
        )
        age = GaugeMetricFamily(
            "gatekeep_issuer_keys_age_seconds",
            "Seconds since the issuer's key set was last fetched successfully.",
            labels=["issuer"],
        )
        fetched = GaugeMetricFamily(
            "gatekeep_issuer_keys_fetched_timestamp_seconds",
            "When the issuer's key set was last fetched successfully (Unix time).",
            labels=["issuer"],
        )
        ok = GaugeMetricFamily(
            "gatekeep_issuer_last_fetch_ok",
            "1 when the issuer's last key fetch succeeded, 0 when it failed.",
            labels=["issuer"],
        )
        for row in self.rows:
            name = row["issuer"]
            keys.add_metric([name], row["keys"])
            ok.add_metric([name], 1 if row["ok"] else 0)
            if row["fetched_at"] is not None:
                fetched.add_metric([name], row["fetched_at"])
                age.add_metric([name], max(0.0, now - row["fetched_at"]))
        yield from (keys, age, fetched, ok)


def issuer_rows() -> list[dict]:
    """What IssuerCollector shows, from each server's JwksSnapshot (one query)."""
    from authservers.models import JwksSnapshot

    rows = []
    for snapshot in JwksSnapshot.objects.select_related("server").order_by("server__name"):
        failed = snapshot.last_error_at is not None and (
            snapshot.fetched_at is None or snapshot.last_error_at > snapshot.fetched_at
        )
        rows.append(
            {
                "issuer": snapshot.server.name,
                "keys": len(snapshot.keys),
                "ok": not failed,
                "fetched_at": snapshot.fetched_at.timestamp() if snapshot.fetched_at else None,
            }
        )
    return rows
