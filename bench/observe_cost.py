"""What observability costs per proxied call, in process (no HTTP, no upstream).

    .venv/bin/python bench/observe_cost.py [--calls 100000]

Times each piece a call pays for (proxy/call_record.py): the trace context (always on),
the CallRecord's notes, the one locked tally update shared by the Prometheus metrics and
the traffic analytics, the JSON access-log line, and the whole bookkeeping of a call with
everything on and with everything off. Per-second work (publishing the tally, writing
the queued lines) is timed per call it serves. Compare with the CPU a call costs the
gateway (bench/run --observe-rounds, bench/README.md "Observability"): a wrk run on a
shared machine swings more than the difference; this does not.
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
os.environ["GATEWAY_METRICS"] = "true"
os.environ["GATEWAY_ANALYTICS"] = "true"

import django  # noqa: E402

django.setup()

from types import SimpleNamespace  # noqa: E402

from django.test import override_settings  # noqa: E402

from analytics.recorder import recorder  # noqa: E402
from proxy import access_log, call_record, metrics, tracing  # noqa: E402
from proxy.call_record import CallRecord, record  # noqa: E402
from proxy.routing import RouteConfig  # noqa: E402


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
    incoming = headers[-1][1].decode()
    environ = {"HTTP_TRACEPARENT": incoming}
    api = SimpleNamespace(id=1, name="Bench v1")
    route = RouteConfig(1, "GET", "/items", frozenset(), False)
    application = SimpleNamespace(id=7, name="Bench client")
    decision = SimpleNamespace(api=api, route=route, application=application)
    app = SimpleNamespace(prefix="/gateway")
    scope = {"method": "GET", "path": "/gateway/bench/v1/items", "headers": headers}

    def trace() -> None:
        context = tracing.begin(incoming)
        tracing.propagate({"headers": headers}, context, True)

    def notes() -> None:
        call = CallRecord()
        call.decided(decision)
        call.upstream_start = call.started
        call.upstream_end = call.started + 400_000

    destination = os.environ["GATEWAY_REQUEST_LOG"]
    # A batch of finished calls as proxy/call_record.py queues them.
    finished = [
        (
            time.time_ns(),
            api,
            route,
            application,
            200,
            None,
            300_000,
            400_000,
            700_000,
            True,
            destination,
            "e143fb114a4f9a32454a000000000006",
            tracing.begin(incoming),
            "GET",
            61,
        )
        for _ in range(call_record.BATCH_CALLS)
    ]

    def tally() -> None:
        metrics.count_calls(finished)

    def log_lines() -> None:
        access_log.write_calls(finished)

    def whole_call() -> None:
        call = CallRecord()
        call.begin_trace(environ)
        call.request_id = "e143fb114a4f9a32454a000000000006"
        call.decided(decision)
        call.trace.upstream_header()
        call.upstream_start = time.perf_counter_ns()
        call.upstream_end = call.upstream_start + 400_000
        call.status = 200
        call.bytes_sent = 61
        record(app, scope, call)

    def publish_per_call() -> float:
        for _ in range(4):
            tally()
        started = time.perf_counter()
        metrics.publish()
        recorder.take()
        return round((time.perf_counter() - started) / (4 * len(finished)) * 1e6, 3)

    # As on a worker: inside the event loop (the access log batches lines on its timers).
    results = {
        "trace context (always on)": per_call_us(trace, calls),
        "CallRecord notes": per_call_us(notes, calls),
        "tally: metrics + analytics": round(
            per_call_us(tally, calls // len(finished)) / len(finished), 2
        ),
        "access-log line (file)": round(
            per_call_us(log_lines, calls // len(finished)) / len(finished), 2
        ),
        "whole bookkeeping, all on": per_call_us(whole_call, calls),
    }
    recorder.take()
    results["publishing the tally, per call"] = publish_per_call()
    with override_settings(
        GATEWAY_METRICS=False, GATEWAY_ANALYTICS=False, GATEWAY_REQUEST_LOG="off"
    ):
        results["whole bookkeeping, all off"] = per_call_us(whole_call, calls)
    call_record.flush()
    recorder.take()
    for name, value in results.items():
        print(f"{name:32} {value:>7} µs per call")


async def in_a_loop() -> None:
    main()


if __name__ == "__main__":
    asyncio.run(in_a_loop())
