"""Traffic limits on the data plane: one Redis round trip per limited call.

`admit()` runs after the decision (the application is known) and before the upstream
call. It finds the limits in the compiled config (no database), runs the counting script
of traffic/counters.py on Redis with the async client (the event loop never blocks), and
either returns the RateLimit headers of the answer or raises the 429 the client gets.

Without REDIS_URL each process counts alone (traffic/local.py). When Redis cannot be
reached, an API that fails open counts per process at its share of the limit (logged
once per outage); one that fails closed refuses its calls with 503. After a failure
Redis is left alone for GATEWAY_RATE_LIMIT_RETRY_SECONDS, so an outage costs no timeout
per call.
"""

import asyncio
import logging
import math
import time

from django.conf import settings

from core.client_address import TrustedProxies, client_from
from proxy.errors import GatewayError
from proxy.redis_pipe import RedisPipe, RedisReplyError, RedisUnavailable
from traffic.counters import (
    DAY,
    MONTH,
    SCRIPT,
    SCRIPT_SHA,
    address_subject,
    application_subject,
    subject_keys,
)
from traffic.local import LocalCounters
from traffic.snapshot import ApiLimits, Limits, TrafficConfig

logger = logging.getLogger("gatekeep.proxy.limits")
NO_HEADERS: list[tuple[bytes, bytes]] = []


class RateLimited(GatewayError):
    status, title, code = 429, "Too many requests", "rate_limited"


class QuotaExceeded(GatewayError):
    status, title, code = 429, "Quota exceeded", "quota_exceeded"


class LimitsUnavailable(GatewayError):
    status, title, code = 503, "Rate limiting unavailable", "rate_limit_unavailable"


class SharedCounters:
    """The Redis side: one pipelined connection per event loop, and the outage bookkeeping."""

    def __init__(self) -> None:
        self._client: RedisPipe | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.down_until = 0.0  # monotonic time before which Redis is not tried
        self.down = False

    def client(self) -> RedisPipe:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            timeout = settings.GATEWAY_RATE_LIMIT_REDIS_TIMEOUT
            self._client, self._loop = RedisPipe(settings.REDIS_URL, timeout), loop
        return self._client

    async def hit(self, keys: tuple[str, str, str], limits: Limits) -> list[int] | None:
        """The script's reply, or None while Redis cannot be reached."""
        if self.down and time.monotonic() < self.down_until:
            return None
        args = (
            limits.interval_us,
            limits.tolerance_us,
            limits.quota_per_day or 0,
            limits.quota_per_month or 0,
        )
        client = self.client()
        try:
            reply = await client.call("EVALSHA", SCRIPT_SHA, 3, *keys, *args)
            if isinstance(reply, RedisReplyError) and str(reply).startswith("NOSCRIPT"):
                # A restarted or flushed Redis forgot the script: send it once.
                reply = await client.call("EVAL", SCRIPT, 3, *keys, *args)
            if isinstance(reply, RedisReplyError):
                raise reply
        except (RedisUnavailable, RedisReplyError, OSError) as error:
            self.down_until = time.monotonic() + settings.GATEWAY_RATE_LIMIT_RETRY_SECONDS
            if not self.down:
                self.down = True
                logger.warning(
                    "Rate-limit counters unavailable (Redis: %s): APIs that fail open count "
                    "per process at 1/%d of their limits, APIs that fail closed answer 503",
                    error,
                    settings.GATEWAY_RATE_LIMIT_PROCESSES,
                )
            return None
        if self.down:
            self.down = False
            logger.warning("Rate-limit counters reachable again (Redis): shared counting resumes")
        return reply


shared = SharedCounters()
local = LocalCounters()


async def admit(
    traffic: TrafficConfig, decision, environ: dict, proxies: TrustedProxies
) -> list[tuple[bytes, bytes]]:
    """Count this call; the headers for the answer, or raise the 429 (or 503)."""
    api_limits = traffic.for_api(decision.api.id)
    if api_limits is None:
        return NO_HEADERS
    limits, subject = _limits_and_subject(api_limits, decision, environ, proxies)
    if limits is None:
        return NO_HEADERS
    keys = subject_keys(api_limits.api_id, subject)
    reply = await shared.hit(keys, limits) if settings.REDIS_URL else None
    if reply is None:
        if settings.REDIS_URL and api_limits.fail_closed:
            raise LimitsUnavailable(
                "Calls to this API cannot be counted right now; retry shortly.",
                headers={"Retry-After": "1"},
            )
        reply = local.hit(keys, limits, settings.GATEWAY_RATE_LIMIT_PROCESSES)
    allowed, refused_by, retry_ms = reply[0], reply[1], reply[2]
    headers = _headers(limits, reply)
    if not allowed:
        retry = str(max(1, math.ceil(retry_ms / 1000)))
        refusal = {"Retry-After": retry, **{k.decode(): v.decode() for k, v in headers}}
        if refused_by == DAY:
            raise QuotaExceeded("The daily quota of calls to this API is used up.", headers=refusal)
        if refused_by == MONTH:
            raise QuotaExceeded(
                "The monthly quota of calls to this API is used up.", headers=refusal
            )
        raise RateLimited(f"Too many calls to this API; retry in {retry} s.", headers=refusal)
    return headers


def _limits_and_subject(
    api_limits: ApiLimits, decision, environ: dict, proxies: TrustedProxies
) -> tuple[Limits | None, str]:
    application = decision.application
    if application is not None:
        return api_limits.for_application(application.id), application_subject(application.id)
    if api_limits.anonymous is None:
        return None, ""
    # The client's address, believing X-Forwarded-For only from GATEWAY_TRUSTED_PROXIES.
    peer = environ.get("REMOTE_ADDR", "")
    address = client_from(peer, environ.get("HTTP_X_FORWARDED_FOR", ""), proxies) or peer
    return api_limits.anonymous, address_subject(address)


def _headers(limits: Limits, reply: list[int]) -> list[tuple[bytes, bytes]]:
    """RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers): each limit
    with what is left of it and the seconds until it is restored."""
    _, _, _, remaining, reset_ms, day_used, day_reset, month_used, month_reset = reply
    items = []
    if limits.rate:
        items.append(f'"rate";r={max(0, remaining)};t={math.ceil(reset_ms / 1000)}')
    if limits.quota_per_day:
        items.append(f'"day";r={max(0, limits.quota_per_day - day_used)};t={day_reset}')
    if limits.quota_per_month:
        items.append(f'"month";r={max(0, limits.quota_per_month - month_used)};t={month_reset}')
    return [
        (b"ratelimit-policy", limits.policy_header.encode()),
        (b"ratelimit", ", ".join(items).encode()),
    ]


def readiness(config) -> dict:
    """What /readyz tells about limits: where calls are counted, whether this worker
    reaches Redis, and what each limited API (by base path) does while Redis is down."""
    when_down = {}
    for api in config.apis.values() if config is not None else ():
        api_limits = config.traffic.for_api(api.id)
        if api_limits is not None:
            when_down[api.base_path] = "closed" if api_limits.fail_closed else "open"
    return {
        "counters": "redis" if settings.REDIS_URL else "process",
        "redis_reachable": bool(settings.REDIS_URL) and not shared.down,
        "when_redis_down": dict(sorted(when_down.items())),
    }
