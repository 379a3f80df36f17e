"""What the data plane notes about one proxied call, and the one step that records it.

GatewayApp (proxy/app.py) makes a CallRecord when a call comes in, fills its fields as
the call goes (the decision, the refusal code, the upstream's timing, the status and
bytes it sent) and calls `record()` once, after the response is sent. That step feeds:
- Prometheus metrics and the per-minute traffic analytics: the worker's tally
  (proxy/metrics.py, analytics/recorder.py),
- the JSON access log (proxy/access_log.py),
the two through a queue of finished calls, handled in batches (`flush()`);
- OTLP spans (proxy/tracing.py).
Each can be switched off (proxy/switches.py); bench/run --observe-rounds measures the
cost of having them on, bench/observe_cost.py the cost of each piece.
"""

import asyncio
import logging
import random
import threading
import time
from collections import deque

from proxy import access_log, metrics, switches, tracing
from proxy.config import config_holder
from proxy.errors import GatewayError
from proxy.pipeline import locate

logger = logging.getLogger(__name__)
_NONE = metrics.NONE
_perf_ns = time.perf_counter_ns
_wall_ns = time.time_ns


class CallRecord:
    __slots__ = (
        "bytes_sent",
        "code",
        "decided_at",
        "decision",
        "request_id",
        "started",
        "status",
        "trace",
        "traceparent_in",
        "upstream_end",
        "upstream_start",
        "wall_start",
    )

    def __init__(self) -> None:
        self.started = _perf_ns()
        self.wall_start = _wall_ns()
        self.status = 0  # 0 until a response head went out
        self.bytes_sent = 0
        self.code: str | None = None  # the problem code of a refusal
        self.decision = None
        self.decided_at: int | None = None
        self.upstream_start: int | None = None
        self.upstream_end: int | None = None
        self.request_id = "-"
        self.trace: tracing.TraceContext | None = None
        self.traceparent_in = False  # the caller sent a traceparent header

    def begin_trace(self, environ: dict) -> None:
        incoming = environ.get("HTTP_TRACEPARENT")
        self.traceparent_in = incoming is not None
        self.trace = tracing.begin(incoming)

    def decided(self, decision) -> None:
        self.decision = decision
        self.decided_at = _perf_ns()

    def refused(self, error: GatewayError) -> None:
        self.code = error.code
        if self.decided_at is None:
            self.decided_at = _perf_ns()


def record(app, scope: dict, call: CallRecord) -> None:
    """Record a finished call; never fails the call."""
    try:
        _record(app, scope, call)
    except Exception:
        logger.exception("Could not record a call")


# Each finished call that is counted or logged waits here as one tuple:
#   (wall_ns, api, route, application, status, code, gateway_ns, upstream_ns, total_ns,
#    counted, log destination or None, request_id, trace context, method, bytes_sent)
# and `flush()` hands the lot to the tally (proxy/metrics.py count_calls) and the access
# log (proxy/access_log.py write_calls) once BATCH_CALLS are queued, FLUSH_SECONDS after a
# logged call, and whenever the tally is published. A call on the event loop pays for
# one append; the work per call runs in a loop over the batch, whose code and data stay
# in the CPU's caches (bench/README.md, Observability: cold, per call, it cost 2.5 times
# as much in a worker as the same code in a loop).
BATCH_CALLS = 256
FLUSH_SECONDS = 0.2
_finished: deque = deque()  # appends and pops are atomic: no lock per call
_flush_lock = threading.Lock()  # one flush at a time: lines leave in order
_timer_armed = False  # a flush() is due within FLUSH_SECONDS


def _record(app, scope: dict, call: CallRecord) -> None:
    ended = _perf_ns()
    on = switches.switches
    status = call.status
    code = call.code
    if not status:  # the client left before any answer (nginx's 499)
        status, code = 499, code or "client_closed_request"
    decision = call.decision
    if decision is not None:
        api, route, application = decision.api, decision.route, decision.application
    else:
        api, route = _refused_target(app, scope)
        application = None
    total = ended - call.started
    if call.upstream_start is None:
        upstream = None
        gateway = total
    else:
        upstream = (call.upstream_end or ended) - call.upstream_start
        gateway = total - upstream
    destination = on.log_destination
    if destination is not None and on.log_sample < 1 and random.random() >= on.log_sample:
        destination = None
    counted = on.counting
    if counted or destination is not None:
        _finished.append(
            (
                call.wall_start,
                api,
                route,
                application,
                status,
                code,
                gateway,
                upstream,
                total,
                counted,
                destination,
                call.request_id,
                call.trace,
                scope["method"],
                call.bytes_sent,
            )
        )
        if len(_finished) >= BATCH_CALLS:
            flush()
        elif destination is not None and not _timer_armed:
            _arm_timer()
    if on.export and call.trace is not None and call.trace.sampled:
        _export(scope, call, ended, api, route, application, status, code)


def flush() -> None:
    """Count and log the queued calls (a full batch, the timer, the tally's publishing, the
    worker's housekeeping thread, shutdown)."""
    global _timer_armed
    with _flush_lock:
        _timer_armed = False
        calls = [_finished.popleft() for _ in range(len(_finished))]
        if not calls:
            return
        counted = [values for values in calls if values[9]]
        if counted:
            metrics.count_calls(counted)
        access_log.write_calls(calls)


metrics.sources.append(flush)  # what is published includes every finished call


def _arm_timer() -> None:
    """One timer at a time writes logged calls within FLUSH_SECONDS. A timer on a loop that
    has stopped (a server restarted in the same process) never fires: the housekeeping
    thread's flush (proxy/observe.py, every second) disarms it, and the next logged call
    arms a new one."""
    global _timer_armed
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        flush()  # no event loop to time a batch: now
        return
    loop.call_later(FLUSH_SECONDS, flush)
    _timer_armed = True


def _refused_target(app, scope: dict) -> tuple:
    """(API config or None, route config or None) a refused call was meant for, from the
    compiled config: refusals are counted against the API and route they name."""
    config = config_holder.snapshot()
    if config is None:
        return None, None
    try:
        api, segments = locate(config, scope["path"][len(app.prefix) :])
    except GatewayError:
        return None, None
    try:
        return api, api.routes.match(segments, scope["method"])
    except GatewayError:
        return api, None


def _export(scope, call: CallRecord, ended: int, api, route, application, status, code) -> None:
    def wall(mark: int | None) -> int | None:
        return None if mark is None else call.wall_start + mark - call.started

    tracing.export(
        call.trace,
        {
            "start": call.wall_start,
            "end": wall(ended),
            "decided": wall(call.decided_at),
            "upstream_start": wall(call.upstream_start),
            "upstream_end": wall(call.upstream_end),
            "method": scope["method"],
            "route": route.label if route is not None else _NONE,
            "api": api.name if api is not None else _NONE,
            "application": application.name if application is not None else _NONE,
            "status": status,
            "code": code,
            "request_id": call.request_id,
        },
    )
