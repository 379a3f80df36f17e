"""The public listener (data plane): proxied APIs, the relayed OAuth2 endpoints, probes.

    gunicorn -c conf/public.py proxy.asgi:application     (manage.py serve starts it)

| path                                   | served by                                   |
|----------------------------------------|---------------------------------------------|
| GATEWAY_PREFIX/…  (/gateway/…)         | proxy/app.py: decide, then forward upstream |
| /oauth2/…, /.well-known/…              | proxy/relay.py → the control plane          |
| /healthz, /readyz                      | here (readyz: 200 "degraded" while serving) |
| anything else (/console/, /api/v1/ …)  | 404: the admin surfaces live on another origin |

Django's request cycle never runs here; Django is set up for its ORM and settings,
used off the event loop only (config rebuilds, key fetches, readiness).
"""

import asyncio
import gc
import logging
import os
import threading

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")
django.setup()

from django.conf import settings  # noqa: E402 - needs django.setup()

from core import config_bus  # noqa: E402
from core.readiness import readiness  # noqa: E402
from proxy.app import GatewayApp, wsgi_like_environ  # noqa: E402
from proxy.config import config_holder  # noqa: E402
from proxy.errors import ApiNotFound  # noqa: E402
from proxy.forward import forget_client  # noqa: E402
from proxy.observe import metrics_endpoint, worker_started, worker_stopping  # noqa: E402
from proxy.rate_limits import readiness as limits_readiness  # noqa: E402
from proxy.relay import ControlPlaneRelay  # noqa: E402
from proxy.responses import send_error, send_json  # noqa: E402

logger = logging.getLogger("gatekeep.proxy")
RELAYED_PREFIXES = ("/oauth2/", "/.well-known/")


class PublicApp:
    def __init__(self, internal_url: str | None = None, preload: bool = True):
        self.gateway = GatewayApp()
        self.prefix = self.gateway.prefix
        self.relay = ControlPlaneRelay(
            internal_url or settings.GATEWAY_INTERNAL_URL, self.gateway.client_address
        )
        self.preload = preload
        self._poller: asyncio.Task | None = None
        self._listening = threading.Event()
        self._stop_listening = threading.Event()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets on the public listener
        path = scope["path"]
        if path.startswith(self.prefix + "/") or path == self.prefix:
            await self.gateway(scope, receive, send)
        elif path == "/healthz":
            await send_json(send, 200, {"status": "ok"})
        elif path == "/readyz":
            await self._readyz(send)
        elif path == "/metrics" and settings.GATEWAY_METRICS_ON_PUBLIC:
            await metrics_endpoint(scope, send)
        elif path.startswith(RELAYED_PREFIXES) and self.gateway.host_is_ours(scope):
            await self.relay(scope, receive, send, wsgi_like_environ(scope))
        else:
            error = ApiNotFound("Nothing is published at this path.", check="route")
            await send_error(send, error, "-", None)

    async def _readyz(self, send) -> None:
        loop = asyncio.get_running_loop()
        status, payload = await loop.run_in_executor(None, readiness)
        payload["checks"]["config"] = config_holder.snapshot() is not None
        payload["rate_limits"] = limits_readiness(config_holder.snapshot())
        if not payload["checks"]["config"]:
            status, payload["status"] = 503, "unavailable"
        elif status != 200:
            # A shared service is down but the worker serves from its in-memory config
            # (docs/operations.md): still ready, so the load balancer keeps sending traffic.
            status, payload["status"] = 200, "degraded"
            payload["down"] = sorted(name for name, ok in payload["checks"].items() if not ok)
        await send_json(send, status, payload, [("Cache-Control", "no-store")])

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._poller is not None:
                    self._poller.cancel()
                self._stop_listening.set()
                await asyncio.get_running_loop().run_in_executor(None, worker_stopping)
                forget_client()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _startup(self) -> None:
        # Each call allocates a few hundred short-lived objects; with the default gen-0
        # threshold (700) the cyclic GC ran every couple of calls. The long-lived config
        # is frozen out of its reach (proxy/config.py). bench/README.md: +6-8 % on (c).
        gc.set_threshold(50_000, 50, 100)
        loop = asyncio.get_running_loop()
        if self.preload:
            try:
                await loop.run_in_executor(None, config_holder.current)
            except Exception:
                logger.exception("Could not load the gateway configuration at start; retrying")
        self._poller = loop.create_task(self._poll_config())
        worker_started()  # flushes traffic analytics, publishes counters (proxy/observe.py)
        self._listen_for_announcements()

    def _listen_for_announcements(self) -> None:
        """A thread per worker follows the config channel (core/config_bus.py): a change
        is picked up as soon as it is announced; the poll stays as the safety net."""
        if (
            not settings.REDIS_URL
            or not settings.GATEWAY_CONFIG_ANNOUNCEMENTS
            or self._listening.is_set()
        ):
            return
        self._listening.set()

        def on_version(version: str | None) -> None:
            try:
                config_holder.announced(version)
            except Exception:
                logger.exception("Could not follow the announced config version %s", version)

        threading.Thread(
            target=config_bus.listen,
            args=(on_version, self._stop_listening),
            name="config-announcements",
            daemon=True,
        ).start()

    @staticmethod
    async def _poll_config() -> None:
        """Rebuilds run in a thread and swap in atomically; the loop never waits on them."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(settings.GATEWAY_CONFIG_POLL_SECONDS)
            try:
                if config_holder.snapshot() is None:
                    continue  # loaded on demand by the first call
                await loop.run_in_executor(None, config_holder.refresh)
            except Exception:
                logger.exception("Config poll failed")


application = PublicApp()
