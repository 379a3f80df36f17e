"""Limits under the production server (`manage.py serve`), counted in a real redis-server
the test starts, restarts and stops: quotas across a gateway restart, the Redis-down
choice of each API, several processes sharing one budget."""

import threading
import time
from collections import Counter
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests

from applications.models import Application
from tests.production import add_api
from tests.traffic.conftest import limit_api, limit_application
from traffic.choices import Period, WhenRedisDown


def serve(production_gateway, redis_server, workers: int = 1, **env):
    return production_gateway(
        env={"REDIS_URL": redis_server.url, "CELERY_TASK_ALWAYS_EAGER": "true", **env},
        workers=workers,
    )


def get(url: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, timeout=10)


def test_a_daily_quota_survives_a_gateway_restart(published, production_gateway, redis_server):
    limit_api(published.api, quota_per_day=3)
    token = published.token()
    first = serve(production_gateway, redis_server)
    url = f"{first.url}/gateway/petstore/v1/pets"
    assert [get(url, token).status_code for _ in range(2)] == [200, 200]
    first.stop()

    second = serve(production_gateway, redis_server)
    url = f"{second.url}/gateway/petstore/v1/pets"
    last = get(url, token)
    assert last.status_code == 200
    assert last.headers["RateLimit"].startswith('"day";r=0;t=')
    refused = get(url, token)
    assert refused.status_code == 429
    assert refused.json()["code"] == "quota_exceeded"


def test_redis_stopped_mid_run_fails_open_or_closed_as_each_api_chose(
    published, production_gateway, redis_server
):
    # Open: 10 per minute shared; alone, each of the 2 processes it counts for gets 5.
    limit_api(published.api, rate=10, period=Period.MINUTE, when_redis_down=WhenRedisDown.OPEN)
    closed_api = add_api(published, "/strict/v1", f"{published.upstream.url}/backend")
    limit_api(closed_api, rate=1000, when_redis_down=WhenRedisDown.CLOSED)
    gateway = serve(production_gateway, redis_server, GATEWAY_RATE_LIMIT_PROCESSES="2")
    token = published.token()
    open_url = f"{gateway.url}/gateway/petstore/v1/pets"
    closed_url = f"{gateway.url}/gateway/strict/v1/anything"
    assert [get(open_url, token).status_code for _ in range(2)] == [200, 200]
    assert get(closed_url, token).status_code == 200
    ready = requests.get(gateway.url + "/readyz", timeout=10).json()["rate_limits"]
    assert ready == {
        "counters": "redis",
        "redis_reachable": True,
        "when_redis_down": {"/petstore/v1": "open", "/strict/v1": "closed"},
    }

    redis_server.stop()
    closed = [get(closed_url, token) for _ in range(5)]
    opened = [get(open_url, token) for _ in range(7)]
    assert {r.status_code for r in closed} == {503}
    problem = closed[0].json()
    assert problem["code"] == "rate_limit_unavailable"
    assert closed[0].headers["Retry-After"] == "1"
    # Fail open: counted by the process alone, at half of the limit.
    assert [r.status_code for r in opened] == [200] * 5 + [429] * 2
    ready = requests.get(gateway.url + "/readyz", timeout=10).json()
    assert ready["rate_limits"]["redis_reachable"] is False
    assert ready["rate_limits"]["when_redis_down"]["/strict/v1"] == "closed"
    outage = [line for line in gateway.log if "Rate-limit counters unavailable" in line]
    assert len(outage) == 1, outage  # once per outage and worker, not per call

    redis_server.restart()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and get(closed_url, token).status_code != 200:
        time.sleep(0.2)
    assert get(closed_url, token).status_code == 200
    assert any("reachable again" in line for line in gateway.log)


class Offered:
    """Calls at about `rate` per second from `threads` threads for `seconds`; statuses."""

    def __init__(self, url: str, token: str, rate: float, seconds: float, threads: int):
        self.url, self.token = url, token
        self.interval = threads / rate
        self.seconds = seconds
        self.statuses: Counter = Counter()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {self.token}"}
        end = time.monotonic() + self.seconds
        next_at = time.monotonic()
        while time.monotonic() < end:
            status = session.get(self.url, headers=headers, timeout=10).status_code
            with self.lock:
                self.statuses[status] += 1
            next_at += self.interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    def start(self) -> "Offered":
        for thread in self.threads:
            thread.start()
        return self

    def join(self) -> Counter:
        for thread in self.threads:
            thread.join(30)
        return self.statuses


@pytest.mark.serial
def test_three_processes_share_one_budget_and_leave_other_applications_alone(
    published, production_gateway, redis_server
):
    other = Application.objects.create(name="Calm client", identifying_claims={"client_id": "b"})
    other.apis.add(published.api)
    limit_api(published.api, rate=10, burst=5)  # A: 10 per second, 5 at once
    limit_application(other, published.api, rate=50, burst=50)  # B: 50 per second
    gateway = serve(production_gateway, redis_server, workers=3)
    url = f"{gateway.url}/gateway/petstore/v1/pets"
    seconds = 8
    # Many connections, so the kernel spreads them over the three workers.
    greedy = Offered(url, published.token(), rate=60, seconds=seconds, threads=12).start()
    calm = Offered(url, published.token(client_id="b"), rate=10, seconds=seconds, threads=2)
    calm.start()
    a, b = greedy.join(), calm.join()
    assert set(a) == {200, 429}, a
    assert a[429] > a[200], a  # A was offered far more than its rate
    expected = 10 * seconds + 5
    assert abs(a[200] - expected) <= 0.1 * expected, (a, expected, gateway.log[-20:])
    assert set(b) == {200}, b


FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


@pytest.mark.skipif(not FAKETIME.exists(), reason="libfaketime (Debian: faketime) missing")
def test_a_node_whose_clock_is_an_hour_behind_admits_nothing_more(
    published, production_gateway, redis_server
):
    limit_api(published.api, rate=4, period=Period.HOUR, burst=4)
    on_time = serve(production_gateway, redis_server)
    # An hour behind (ahead, gunicorn's arbiter would take its workers' heartbeat files,
    # stamped by the kernel's clock, for an hour stale and restart them).
    behind = serve(production_gateway, redis_server, LD_PRELOAD=str(FAKETIME), FAKETIME="-3600s")
    now = int(time.time())
    token = published.token(iat=now - 7200, nbf=now - 7200, exp=now + 7200)  # valid on both
    # The node really lives an hour behind (its Date header says so).
    stamped = parsedate_to_datetime(get(f"{behind.url}/healthz").headers["Date"]).timestamp()
    assert 3500 < now - stamped < 3700
    statuses = [
        get(f"{node.url}/gateway/petstore/v1/pets", token).status_code
        for node in (on_time, behind) * 4
    ]
    # Both nodes count on Redis's clock: four in all, whichever node a call reached.
    assert sorted(statuses) == [200] * 4 + [429] * 4, statuses
    assert statuses[:4] == [200] * 4
