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

from analytics import histogram
from analytics.recorder import recorder
from proxy import switches

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

# One locked update per call feeds both Prometheus and the traffic analytics: `count()`
# adds the call to a plain entry of this worker's tally; `publish()` (each worker's
# housekeeping thread every GATEWAY_METRICS_PUBLISH_SECONDS, before any scrape this process
# answers, and before the analytics recorder hands its cells over) moves the tally into
# prometheus-client's values (in multiprocess mode each is a locked write to a
# memory-mapped file) and into the recorder's per-minute cells (analytics/recorder.py).
# Durations stay integer nanoseconds until then.
_GATEWAY_BOUNDS_NS = [round(bound * 1e9) for bound in GATEWAY_BUCKETS]
_UPSTREAM_BOUNDS_NS = [round(bound * 1e9) for bound in UPSTREAM_BUCKETS]
_LATENCY_BOUNDS_NS = [bound * 1_000_000 for bound in histogram.BOUNDS_MS]
_MINUTE_NS = 60_000_000_000


class _Entry:
    """The calls of one minute x API x route x application x status class x refusal code."""

    __slots__ = (
        "calls",
        "gateway",
        "gateway_ns",
        "labels",
        "latency",
        "total_ns",
        "upstream",
        "upstream_ns",
    )

    def __init__(self, labels: tuple[str, str, str]) -> None:
        self.labels = labels  # (API name, route label, application name)
        self.calls = 0
        self.gateway_ns = 0
        self.gateway = [0] * (len(_GATEWAY_BOUNDS_NS) + 1)
        self.upstream_ns = 0
        self.upstream = [0] * (len(_UPSTREAM_BOUNDS_NS) + 1)
        self.total_ns = 0
        self.latency = [0] * histogram.SIZE


_tally: dict[tuple, _Entry] = {}
_tally_lock = threading.Lock()
_children: dict[tuple, tuple] = {}
_refusal_children: dict[tuple, object] = {}


def count_calls(calls) -> None:
    """Add calls, each a tuple that starts (wall_ns, api, route, application, status, code,
    gateway_ns, upstream_ns, total_ns) (proxy/call_record.py queues them): one lock for
    the lot, and a loop that stays in the CPU's caches (per call, cold, it cost 2.5 times
    as much in a worker)."""
    gateway_bounds, upstream_bounds, latency_bounds = (
        _GATEWAY_BOUNDS_NS,
        _UPSTREAM_BOUNDS_NS,
        _LATENCY_BOUNDS_NS,
    )
    with _tally_lock:
        tally = _tally
        for (
            wall_ns,
            api,
            route,
            application,
            status,
            code,
            gateway_ns,
            upstream_ns,
            total_ns,
            *_,
        ) in calls:
            key = (
                wall_ns // _MINUTE_NS,
                api.id if api is not None else 0,
                route.label if route is not None else NONE,
                application.id if application is not None else 0,
                status // 100,
                code,
            )
            entry = tally.get(key)
            if entry is None:
                entry = tally[key] = _Entry(
                    (
                        api.name if api is not None else NONE,
                        key[2],
                        application.name if application is not None else NONE,
                    )
                )
            entry.calls += 1
            entry.gateway_ns += gateway_ns
            entry.gateway[bisect_left(gateway_bounds, gateway_ns)] += 1
            entry.total_ns += total_ns
            entry.latency[bisect_left(latency_bounds, total_ns)] += 1
            if upstream_ns is not None:
                entry.upstream_ns += upstream_ns
                entry.upstream[bisect_left(upstream_bounds, upstream_ns)] += 1


# Called before the tally is published: they hand over calls queued elsewhere
# (proxy/call_record.py), so what is published includes every call that has finished.
sources: list = []


def publish() -> None:
    """Move the tally into the exported values and the analytics recorder's cells."""
    global _tally
    for source in sources:
        source()
    with _tally_lock:
        tally, _tally = _tally, {}
    if not tally:
        return
    # The traffic cells first: they are retried until stored, so a Prometheus write that
    # fails (a full disk under the multiprocess files) must not take them down with it.
    if switches.switches.analytics:
        for (minute, api_id, _route, application_id, status_class, code), entry in tally.items():
            recorder.add(
                (minute * 60, api_id, application_id, status_class),
                entry.calls,
                entry.total_ns / 1e6,
                entry.latency,
                code,
            )
    if switches.switches.metrics:
        for key, entry in tally.items():
            _publish_metrics(key, entry)


recorder.feeders.append(publish)  # cells taken for a flush include the latest calls


def _publish_metrics(key: tuple, entry: _Entry) -> None:
    api, route, application = entry.labels
    status_class = STATUS_CLASSES.get(key[4], "other")
    children = _children.get((api, route, application, status_class))
    if children is None:
        children = _children[(api, route, application, status_class)] = (
            REQUESTS.labels(api, route, application, status_class),
            GATEWAY_SECONDS.labels(api),
            UPSTREAM_SECONDS.labels(api),
        )
    requests, gateway_child, upstream_child = children
    requests.inc(entry.calls)
    _add_to_histogram(gateway_child, entry.gateway_ns / 1e9, entry.gateway)
    if entry.upstream_ns or any(entry.upstream):
        _add_to_histogram(upstream_child, entry.upstream_ns / 1e9, entry.upstream)
    code = key[5]
    if code:
        refusal = _refusal_children.get((api, code))
        if refusal is None:
            refusal = _refusal_children[(api, code)] = REFUSALS.labels(api, code)
        refusal.inc(entry.calls)
        if code == "upstream_timeout":
            UPSTREAM_ERRORS.labels(api, "timeout").inc(entry.calls)
        elif code == "upstream_unavailable":
            UPSTREAM_ERRORS.labels(api, "unavailable").inc(entry.calls)


def _add_to_histogram(child, total: float, buckets: list[int]) -> None:
    # Histogram.observe() one value at a time, in bulk: the same sum and bucket values
    # (prometheus-client keeps them in `_sum` and `_buckets`, non-cumulative).
    child._sum.inc(total)
    for index, bucket_count in enumerate(buckets):
        if bucket_count:
            child._buckets[index].inc(bucket_count)


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
