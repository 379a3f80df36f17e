"""Shared fixtures: real keys, a real identity provider, a real upstream, the real gateway."""

import os
import re
import time
from dataclasses import dataclass

import pytest
import requests
from django.core.cache import cache

from analytics.recorder import recorder
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.services import activate_api
from applications.models import Application
from authservers.keystore import key_store
from authservers.models import AuthorizationServer
from proxy.config import config_holder
from proxy.tokens import verified_tokens
from tests.servers import GatewayServer, JwksServer, UpstreamServer
from tests.tokens import claims_for, new_ec_key, new_rsa_key, sign


def _own_redis_database_per_xdist_worker() -> None:
    """pytest-xdist workers share one Redis: each gets its own database number, so one
    worker's cache.clear() (FLUSHDB) never empties another's. The cache is created lazily,
    after this runs at collection; the gateways the tests start inherit the URL."""
    from django.conf import settings

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not settings.REDIS_URL or not worker.startswith("gw"):
        return
    found = re.search(r"/(\d+)$", settings.REDIS_URL)
    base = int(found.group(1)) if found else 0
    database = (base - int(worker[2:])) % 16
    url = re.sub(r"(/\d+)?$", f"/{database}", settings.REDIS_URL, count=1)
    settings.REDIS_URL = url
    settings.CACHES["default"]["LOCATION"] = url
    settings.CELERY_BROKER_URL = url


_own_redis_database_per_xdist_worker()


def reset_gateway_state() -> None:
    cache.clear()
    config_holder.invalidate()
    key_store.forget()
    verified_tokens.clear()
    recorder.take()  # traffic cells of an earlier test never reach this one's database


@pytest.fixture(autouse=True)
def celery_runs_inline(request):
    """The tests' own process has no Celery worker: queued tasks run inline, as in the
    embedded setup, also when REDIS_URL makes Redis the broker. Tests marked `redis`
    drive a real worker (tests/authservers/test_celery_worker.py)."""
    if request.node.get_closest_marker("redis"):
        yield
        return
    from gateway_admin.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def fresh_gateway_state():
    reset_gateway_state()
    yield
    reset_gateway_state()


class FixedClock:
    """core.clock stopped at one instant (whole seconds since the epoch); advance() moves it."""

    def __init__(self, start: float):
        self.seconds = start

    def time(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


@pytest.fixture
def clock(monkeypatch) -> FixedClock:
    """A fixed wall clock for token lifetimes, key publication and rate-limit windows
    (core/clock.py), starting at the current second: tests see an exact expiry without
    sleeping, whatever the machine's load. Loopback servers run in this process and see it."""
    fixed = FixedClock(float(int(time.time())))
    monkeypatch.setattr("core.clock.time", fixed.time)
    return fixed


@pytest.fixture(scope="session")
def rsa_key():
    return new_rsa_key("rsa-1")


@pytest.fixture(scope="session")
def ec_key():
    return new_ec_key("ec-1")


@pytest.fixture
def upstream():
    server = UpstreamServer()
    yield server
    server.stop()


@pytest.fixture
def idp(rsa_key, ec_key):
    server = JwksServer()
    server.keys = [rsa_key, ec_key]
    yield server
    server.stop()


@pytest.fixture
def gateway(transactional_db):
    server = GatewayServer()
    yield server
    server.stop()


@dataclass
class PublishedApi:
    """An active API protected by the policy, trusting `idp`, with one application."""

    api: Api
    server: AuthorizationServer
    application: Application
    gateway: GatewayServer
    idp: JwksServer
    upstream: UpstreamServer
    rsa_key: object

    @property
    def url(self) -> str:
        return f"{self.gateway.url}/gateway{self.api.base_path}"

    def token(self, key=None, header: dict | None = None, alg: str | None = None, **claims) -> str:
        return sign(key or self.rsa_key, claims_for(self.idp.issuer, **claims), header, alg)

    def gateway_wait_for_reload(self) -> None:
        """Wait until the gateway's poll interval has passed, so a config change is live."""
        from django.conf import settings

        time.sleep(settings.GATEWAY_CONFIG_POLL_SECONDS + 0.1)

    def get(self, path: str = "/pets", token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        return requests.get(self.url + path, headers=headers, timeout=10, **kwargs)


def publish_api(idp: JwksServer, upstream: UpstreamServer, **server_fields) -> tuple:
    server = AuthorizationServer.objects.create(
        name="Test IdP", kind="external", issuer=idp.issuer, **server_fields
    )
    api = Api.objects.create(
        name="Petstore",
        version="v1",
        base_path="/petstore/v1",
        upstream_url=f"{upstream.url}/backend",
        read_timeout=4.0,
        connect_timeout=1.0,
    )
    Route.objects.create(api=api, method="GET", path="/pets", required_scopes=["pets:read"])
    Route.objects.create(api=api, method="GET", path="/pets/{id}")
    Route.objects.create(api=api, method="POST", path="/pets", required_scopes=["pets:write"])
    Route.objects.create(api=api, method="ANY", path="/files/{path+}")
    Route.objects.create(api=api, method="GET", path="/health", anonymous=True)
    policy = IdentifyAndAuthorizePolicy.objects.create(
        api=api, audiences=["petstore"], forward_claims={"email": "X-User-Email"}
    )
    policy.authorization_servers.add(server)
    application = Application.objects.create(
        name="Petstore client", identifying_claims={"client_id": "petstore-client"}
    )
    application.apis.add(api)
    problems = activate_api(api)
    assert problems == []
    return api, server, application


@pytest.fixture
def published(gateway, idp, upstream, rsa_key) -> PublishedApi:
    api, server, application = publish_api(idp, upstream)
    return PublishedApi(api, server, application, gateway, idp, upstream, rsa_key)
