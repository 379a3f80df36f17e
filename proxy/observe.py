"""Each worker's observation housekeeping, and /metrics on the public listener.

Per call, proxy/call_record.py notes what happened and records it once. Here: the
thread that publishes each worker's tally to Prometheus and the traffic analytics
(every GATEWAY_METRICS_PUBLISH_SECONDS), flushes the traffic cells (every
GATEWAY_ANALYTICS_FLUSH_SECONDS); publishing first counts and logs the queued calls.
"""

import asyncio
import logging
import threading
import time

from django.conf import settings

from analytics.recorder import recorder
from core.config_version import version_number
from proxy import metrics, switches, tracing
from proxy.config import config_holder
from proxy.tokens import verified_tokens

logger = logging.getLogger(__name__)


# --- Per worker ----------------------------------------------------------------------

_stop = threading.Event()
_thread: threading.Thread | None = None


def _housekeeping(flush_traffic: bool = True) -> None:
    """Publish this worker's counters; every GATEWAY_ANALYTICS_FLUSH_SECONDS also flush its
    traffic cells. Publishing first counts and logs the queued calls (proxy/call_record.py)."""
    metrics.publish()  # the tally: to Prometheus and the traffic cells, as switched on
    if switches.switches.metrics:
        metrics.publish_token_cache(verified_tokens.hits, verified_tokens.misses)
    if flush_traffic and switches.switches.analytics:
        recorder.flush()


def _config_swapped() -> None:
    metrics.forget_children()
    config = config_holder.snapshot()
    if config is not None and switches.switches.metrics:
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
