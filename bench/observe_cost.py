"""What observability costs per proxied call, in process (no HTTP, no upstream).

    .venv/bin/python bench/observe_cost.py [--calls 200000]

Times each piece proxy/observe.py adds to a call: the trace context (always on), the
Prometheus updates (multiprocess mode, as `manage.py serve` runs them), the traffic
aggregate, the JSON access-log line, and the whole record step with everything on.
Compare with the CPU a call costs the gateway (bench/README.md, "Observability").
A wrk run on a shared machine swings more than the difference; this does not.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="observe-cost-")
workdir = Path(tempfile.mkdtemp(prefix="observe-cost-log-"))
os.environ["GATEWAY_REQUEST_LOG"] = str(workdir / "access.log")

import django  # noqa: E402

django.setup()

from types import SimpleNamespace  # noqa: E402

from analytics.recorder import recorder  # noqa: E402
from proxy import access_log, metrics, observe, tracing  # noqa: E402


def per_call_us(function, calls: int) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        best = min(best, (time.perf_counter() - started) / calls * 1e6)
    return round(best, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    calls = parser.parse_args().calls
    headers = [
        (b"host", b"gateway.example"),
        (b"user-agent", b"wrk"),
        (b"accept", b"*/*"),
        (b"authorization", b"Bearer " + b"x" * 700),
        (b"traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ]
    api = SimpleNamespace(id=1, name="Bench v1")
    route = SimpleNamespace(method="GET", path="/items")
    application = SimpleNamespace(id=7, name="Bench client")
    decision = SimpleNamespace(api=api, route=route, application=application)
    app = SimpleNamespace(prefix="/gateway")
    scope = {"method": "GET", "path": "/gateway/bench/v1/items", "headers": headers}

    def trace() -> None:
        tracing.begin({"headers": headers})

    def prometheus() -> None:
        metrics.observe("Bench v1", "GET /items", "Bench client", 200, None, 0.0003, 0.0004)

    def aggregate() -> None:
        recorder.record(1, 7, 200, 0.7, None)

    entry = {
        "time": time.time(),
        "request_id": "e143fb114a4f9a32454a000000000006",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "method": "GET",
        "api": "Bench v1",
        "route": "GET /items",
        "application": "Bench client",
        "status": 200,
        "code": None,
        "duration_ms": 0.7,
        "gateway_ms": 0.3,
        "upstream_ms": 0.4,
        "bytes_sent": 61,
    }

    def log_line() -> None:
        access_log.write(entry)

    def record_everything() -> None:
        observation = observe.Observation()
        observation.decision = decision
        observation.status = 200
        observation.bytes_sent = 61
        observation.upstream_start = observation.started
        observation.upstream_end = observation.started + 400_000
        observation.trace = tracing.begin({"headers": headers})
        observe._record(app, scope, observation)

    # As on a worker: inside the event loop (the access log batches lines on its timers).
    results = {
        "trace context (always on)": per_call_us(trace, calls),
        "Prometheus (multiprocess)": per_call_us(prometheus, calls),
        "traffic aggregate": per_call_us(aggregate, calls),
        "access-log line (file)": per_call_us(log_line, calls),
        "whole record step, all on": per_call_us(record_everything, calls),
    }
    recorder.take()
    for name, value in results.items():
        print(f"{name:32} {value:>7} µs per call")


async def in_a_loop() -> None:
    main()


if __name__ == "__main__":
    asyncio.run(in_a_loop())
