"""What the data plane records about each proxied call, in one place.

proxy/app.py wraps GatewayApp.__call__ with `@observed` and adds three one-line
notes (`decided`, `refused`, `timed_upstream`); everything else happens here,
once per call, after the response is sent:
- Prometheus metrics (proxy/metrics.py),
- the JSON access log (proxy/access_log.py),
- the per-minute traffic aggregation (analytics/recorder.py),
- W3C trace context and OTLP spans (proxy/tracing.py).

Each can be switched off (GATEWAY_METRICS, GATEWAY_REQUEST_LOG, GATEWAY_ANALYTICS);
bench/run measures the cost of having them on.
"""

import asyncio
import contextvars
import functools
import logging
import threading
import time

from django.conf import settings

from analytics.recorder import recorder
from core.config_version import version_number
from proxy import access_log, metrics, tracing
from proxy.config import config_holder
from proxy.errors import GatewayError
from proxy.pipeline import Decision, locate
from proxy.tokens import verified_tokens

logger = logging.getLogger(__name__)
_NONE = metrics.NONE


class Observation:
    __slots__ = (
        "bytes_sent",
        "code",
        "decided_at",
        "decision",
        "request_id",
        "started",
        "status",
        "trace",
        "upstream_end",
        "upstream_start",
        "wall_start",
    )

    def __init__(self) -> None:
        self.started = time.perf_counter_ns()
        self.wall_start = time.time_ns()
        self.status = 0
        self.bytes_sent = 0
        self.code: str | None = None
        self.decision: Decision | None = None
        self.decided_at: int | None = None
        self.upstream_start: int | None = None
        self.upstream_end: int | None = None
        self.request_id = "-"
        self.trace: tracing.TraceContext | None = None


_current: contextvars.ContextVar[Observation | None] = contextvars.ContextVar(
    "gatekeep_observation", default=None
)


def decided(decision: Decision) -> None:
    observation = _current.get()
    if observation is not None:
        observation.decision = decision
        observation.decided_at = time.perf_counter_ns()


def refused(error: GatewayError) -> None:
    observation = _current.get()
    if observation is not None:
        observation.code = error.code
        if observation.decided_at is None:
            observation.decided_at = time.perf_counter_ns()


async def timed_upstream(call):
    """Await the upstream call, timing it up to its response head."""
    observation = _current.get()
    if observation is None:
        return await call
    observation.upstream_start = time.perf_counter_ns()
    try:
        return await call
    finally:
        observation.upstream_end = time.perf_counter_ns()


def observed(handler):
    """Decorates GatewayApp.__call__: observe the call, then record it once."""

    @functools.wraps(handler)
    async def wrapper(app, scope, receive, send):
        observation = Observation()
        observation.trace = tracing.begin(scope)
        token = _current.set(observation)

        async def watching_send(message):
            if message["type"] == "http.response.body":
                observation.bytes_sent += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                observation.status = message["status"]
                for name, value in reversed(message["headers"]):
                    if name == b"x-request-id":
                        observation.request_id = value.decode("latin-1")
                        break
            await send(message)

        try:
            await handler(app, scope, receive, watching_send)
        finally:
            _current.reset(token)
            try:
                _record(app, scope, observation)
            except Exception:
                logger.exception("Could not record a call")

    return wrapper


def _labels(app, scope, observation: Observation) -> tuple:
    """(api config or None, route label, application config or None)."""
    decision = observation.decision
    if decision is not None:
        route = f"{decision.route.method} {decision.route.path}"
        return decision.api, route, decision.application
    # A refusal: which API (and route) it was meant for, from the compiled config.
    config = config_holder.snapshot()
    if config is None:
        return None, _NONE, None
    try:
        api, segments = locate(config, scope["path"][len(app.prefix) :])
    except GatewayError:
        return None, _NONE, None
    try:
        route = api.routes.match(segments, scope["method"])
        return api, f"{route.method} {route.path}", None
    except GatewayError:
        return api, _NONE, None


def _record(app, scope, observation: Observation) -> None:
    ended = time.perf_counter_ns()
    status = observation.status
    if not status:  # the client left before any answer (nginx's 499)
        status, observation.code = 499, observation.code or "client_closed_request"
    api, route, application = _labels(app, scope, observation)
    total = (ended - observation.started) / 1e9
    upstream = None
    if observation.upstream_start is not None:
        upstream = ((observation.upstream_end or ended) - observation.upstream_start) / 1e9
    gateway = total - (upstream or 0.0)
    api_name = api.name if api is not None else _NONE
    application_name = application.name if application is not None else _NONE
    if settings.GATEWAY_METRICS:
        metrics.observe(
            api_name, route, application_name, status, observation.code, gateway, upstream
        )
    if settings.GATEWAY_ANALYTICS:
        recorder.record(
            api.id if api is not None else 0,
            application.id if application is not None else 0,
            status,
            total * 1000,
            observation.code,
        )
    trace = observation.trace
    if access_log.enabled():
        access_log.write(
            {
                "time": round(observation.wall_start / 1e9, 6),
                "request_id": observation.request_id,
                "trace_id": trace.trace_id if trace else None,
                "method": scope["method"],
                "api": api_name,
                "route": route,
                "application": application_name,
                "status": status,
                "code": observation.code,
                "duration_ms": round(total * 1000, 3),
                "gateway_ms": round(gateway * 1000, 3),
                "upstream_ms": None if upstream is None else round(upstream * 1000, 3),
                "bytes_sent": observation.bytes_sent,
            }
        )
    if trace is not None and tracing.export_enabled():

        def wall(mark: int | None) -> int | None:
            return None if mark is None else observation.wall_start + mark - observation.started

        tracing.export(
            trace,
            {
                "start": observation.wall_start,
                "end": wall(ended),
                "decided": wall(observation.decided_at),
                "upstream_start": wall(observation.upstream_start),
                "upstream_end": wall(observation.upstream_end),
                "method": scope["method"],
                "route": route,
                "api": api_name,
                "application": application_name,
                "status": status,
                "code": observation.code,
                "request_id": observation.request_id,
            },
        )


# --- Per worker ----------------------------------------------------------------------

_stop = threading.Event()
_thread: threading.Thread | None = None


def _housekeeping(flush_traffic: bool = True) -> None:
    """Publish this worker's counters; every GATEWAY_ANALYTICS_FLUSH_SECONDS also flush its
    traffic cells; write queued access-log lines."""
    if settings.GATEWAY_METRICS:
        metrics.publish()
        metrics.publish_token_cache(verified_tokens.hits, verified_tokens.misses)
    if flush_traffic and settings.GATEWAY_ANALYTICS:
        recorder.flush()
    access_log.flush()


def _config_swapped() -> None:
    metrics.forget_children()
    config = config_holder.snapshot()
    if config is not None and settings.GATEWAY_METRICS:
        metrics.config_swapped(version_number(config.version))


config_holder.listeners.append(_config_swapped)


def worker_started() -> None:
    """Start this worker's housekeeping thread (the public app's lifespan startup)."""
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    _stop.clear()

    def run() -> None:
        flush_every = settings.GATEWAY_ANALYTICS_FLUSH_SECONDS
        next_flush = time.monotonic() + flush_every
        while not _stop.wait(min(settings.GATEWAY_METRICS_PUBLISH_SECONDS, flush_every)):
            flush_traffic = time.monotonic() >= next_flush
            if flush_traffic:
                next_flush = time.monotonic() + flush_every
            try:
                _housekeeping(flush_traffic)
            except Exception:
                logger.exception("Observability housekeeping failed")
        try:
            _housekeeping()  # the last counts of a worker that stops
        except Exception:
            logger.exception("Observability housekeeping failed at shutdown")

    _thread = threading.Thread(target=run, name="observe-housekeeping", daemon=True)
    _thread.start()


def worker_stopping(timeout: float = 5.0) -> None:
    """Flush what is left before the worker exits (lifespan shutdown)."""
    _stop.set()
    if _thread is not None:
        _thread.join(timeout)
    tracing.flush_export()


async def metrics_endpoint(scope, send) -> None:
    """/metrics on the public listener (GATEWAY_METRICS_ON_PUBLIC), with the same guard."""
    from proxy.errors import ApiNotFound
    from proxy.responses import send_error, send_response

    client = scope.get("client")
    authorization = ""
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
    if not metrics.allowed(client[0] if client else "", authorization):
        await send_error(send, ApiNotFound("Nothing is published at this path."), "-", None)
        return
    loop = asyncio.get_running_loop()
    body, content_type = await loop.run_in_executor(None, metrics.render)
    await send_response(
        send,
        200,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
        body,
    )
