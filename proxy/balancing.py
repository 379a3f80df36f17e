"""Stage 4, the call: to the API's upstream URL, or to one of its load-balanced targets
with passive health accounting, one retry, and active health checks.

The choice and the health rules are proxy/stages/balancer.py; this module does the
I/O. A retry happens only for an idempotent method, only on another target, and
only when the connection failed before any byte was sent (refused, or not accepted
in time) or, for a call without a body, closed before any byte of the answer came
back (a target killed mid-call). Active health checks run in one task per event loop, started by
the first balanced call; a target's state changes are reported to the shared cache
(policies/target_state.py) for the console and the REST API.
"""

import asyncio
import logging
import os
import socket
import time

from policies import target_state
from proxy.config import ApiConfig, config_holder
from proxy.forward import UpstreamRequest, send, upstream_error
from proxy.stages import balancer as rules
from proxy.stages.balancer import IDEMPOTENT, BalancerConfig, Target
from proxy.upstream import UpstreamClient, UpstreamFailure, UpstreamResponse

logger = logging.getLogger(__name__)
NOTHING_SENT = frozenset({"refused", "connect_timeout"})
# Closed before any response byte (a target killed mid-call): RFC 9110 §9.2.2 lets an
# idempotent request be retried then, when it has no body that was already consumed.
NO_ANSWER = frozenset({"reset"})
CHECK_TICK_SECONDS = 0.1
REPORT_EVERY_SECONDS = 10.0
WORKER = f"{socket.gethostname()}:{os.getpid()}"


async def balanced_send(
    client: UpstreamClient, api: ApiConfig, request: UpstreamRequest
) -> UpstreamResponse:
    balancer = api.chain.balancer
    if balancer is None:
        return await send(client, api, request)
    if balancer.health_path:
        _ensure_health_checks(balancer)
    target = balancer.single  # the only target gets every call while it is in rotation
    current = None if target is None else rules.states.get(target.id)
    if current is None or not current.healthy:
        target = rules.pick(balancer)
        current = None
    try:
        return await _call(client, api, balancer, target, request, current)
    except UpstreamFailure as failure:
        if not _retryable(failure, balancer, request):
            raise upstream_error(failure) from None
        other = rules.pick(balancer, exclude=target.id)
        if other is None:
            raise upstream_error(failure) from None
        try:
            return await _call(client, api, balancer, other, request)
        except UpstreamFailure as second:
            raise upstream_error(second) from None


def _retryable(failure: UpstreamFailure, balancer: BalancerConfig, request) -> bool:
    if not balancer.retry or request.method not in IDEMPOTENT:
        return False
    bodyless = request.body is None and not request.chunked
    return failure.kind in NOTHING_SENT or (failure.kind in NO_ANSWER and bodyless)


async def _call(client, api, balancer: BalancerConfig, target: Target, request, current=None):
    """One call to `target` (`current`: its state, when already looked up). It counts as
    under way (least connections) until its response head has arrived: the part of a
    call that waits on the target."""
    if current is None:
        current = rules.state(target.id)
    current.active += 1
    try:
        response = await client.request(
            target.scheme,
            target.host,
            target.port,
            request.method,
            request.path_and_query,
            request.headers,
            body=request.body,
            chunked=request.chunked,
            connect_timeout=api.connect_timeout,
            read_timeout=api.read_timeout,
            header_deadline=api.read_timeout,
        )
    except UpstreamFailure as failure:
        if failure.kind != "denied" and rules.passive_failure(balancer, target.id, failure.kind):
            _report(target.id)
        raise
    finally:
        current.active -= 1
    if response.status >= 500:
        if rules.passive_failure(balancer, target.id, f"status {response.status}"):
            _report(target.id)
    else:
        current.failures = 0
    return response


# --- active health checks ------------------------------------------------------------

_checkers: dict[int, asyncio.Task] = {}  # id(loop) → its checker task
_probes: set[asyncio.Task] = set()


def _ensure_health_checks(balancer: BalancerConfig) -> None:
    if not balancer.health_path:
        return
    loop = asyncio.get_running_loop()
    task = _checkers.get(id(loop))
    if task is None or task.done():
        _checkers[id(loop)] = loop.create_task(_check_forever(), name="upstream-health-checks")


async def _check_forever() -> None:
    from proxy.forward import upstream_client

    while True:
        try:
            config = config_holder.snapshot()
            now = time.monotonic()
            for api in config.apis.values() if config is not None else ():
                balancer = api.chain.balancer
                if balancer is None or not balancer.health_path:
                    continue
                for target in balancer.targets:
                    current = rules.state(target.id)
                    if current.next_check > now:
                        continue
                    current.next_check = now + balancer.interval
                    probe = asyncio.get_running_loop().create_task(
                        _probe(upstream_client(), balancer, target)
                    )
                    _probes.add(probe)
                    probe.add_done_callback(_probes.discard)
        except Exception:
            logger.exception("Health check round failed")
        await asyncio.sleep(CHECK_TICK_SECONDS)


async def _probe(client: UpstreamClient, balancer: BalancerConfig, target: Target) -> None:
    ok, reason = False, ""
    try:
        async with asyncio.timeout(balancer.timeout + 0.5):
            response = await client.request(
                target.scheme,
                target.host,
                target.port,
                "GET",
                balancer.health_path,
                [("user-agent", "gatekeep-health-check")],
                connect_timeout=balancer.timeout,
                read_timeout=balancer.timeout,
                header_deadline=balancer.timeout,
            )
            try:
                while await response.next_chunk() is not None:
                    pass
                ok = 200 <= response.status < 400
                reason = f"health check answered {response.status}"
            finally:
                response.close()
    except (UpstreamFailure, TimeoutError) as failure:
        reason = f"health check failed: {failure}"
    except Exception:
        logger.exception("Health check of %s failed", target.url)
        reason = "health check failed"
    changed = rules.check_result(balancer, target.id, ok, reason)
    if changed:
        logger.warning("Upstream target %s: %s", target.url, rules.state(target.id).reason)
    if changed or time.monotonic() - rules.state(target.id).reported_at > REPORT_EVERY_SECONDS:
        _report(target.id)


def _report(target_id: int) -> None:
    """Write the target's state to the shared cache, off the event loop."""
    current = rules.state(target_id)
    current.reported_at = time.monotonic()
    payload = {**current.public(), "reported_at": time.time(), "worker": WORKER}
    future = asyncio.get_running_loop().run_in_executor(
        None, target_state.report, target_id, payload
    )
    future.add_done_callback(_log_failure)


def _log_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("Could not report a target's state: %s", future.exception())
