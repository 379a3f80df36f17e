"""Load-balanced upstreams: weights, algorithms, ejection, retry, health checks."""

import contextlib
import time
from collections import Counter

import pytest

from apis.models import Api
from policies.models import LoadBalancing, UpstreamTarget
from policies.target_state import states
from proxy.stages import balancer
from tests.servers import UpstreamServer


@pytest.fixture(autouse=True)
def fresh_balancer_state():
    balancer.reset()
    yield
    balancer.reset()


@pytest.fixture
def backends():
    servers = [UpstreamServer() for _ in range(3)]
    yield servers
    for server in servers:
        with contextlib.suppress(OSError):
            server.stop()


def add_targets(attach, servers, weights=(1, 1, 1)):
    return [
        attach(UpstreamTarget, url=server.url, weight=weight)
        for server, weight in zip(servers, weights, strict=False)
    ]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_calls_are_spread_by_weight(published, attach, backends):
    add_targets(attach, backends, weights=(3, 1, 1))
    for _ in range(50):
        assert published.get("/pets/1", token=published.token()).status_code == 200
    assert [server.hits for server in backends] == [30, 10, 10]
    assert published.upstream.hits == 0
    # The API's upstream URL still gives the path.
    assert backends[0].last["path"] == "/backend/pets/1"


def test_least_connections_avoids_a_busy_target(published, attach, backends):
    from concurrent.futures import ThreadPoolExecutor

    attach(LoadBalancing, algorithm="least_connections")
    add_targets(attach, backends[:2])
    backends[0].delay = 1.0  # every call it gets stays open for a second
    token = published.token()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: published.get("/pets/1", token=token), range(16)))
    assert all(result.status_code == 200 for result in results)
    assert backends[1].hits > backends[0].hits * 2


def test_a_dead_target_is_retried_elsewhere_then_ejected(published, attach, backends):
    attach(LoadBalancing, passive_failures=2, ejection_seconds=60)
    dead = f"http://127.0.0.1:{free_port()}"
    targets = add_targets(attach, backends[:2])
    dead_target = attach(UpstreamTarget, url=dead)
    statuses = Counter(
        published.get("/pets/1", token=published.token()).status_code for _ in range(30)
    )
    assert statuses == {200: 30}  # every refused connection was retried on another target
    assert backends[0].hits + backends[1].hits == 30
    assert balancer.state(dead_target.id).healthy is False
    time.sleep(0.3)  # the report is written off the loop
    reported = states([dead_target.id, targets[0].id])
    assert reported[dead_target.id]["healthy"] is False
    assert "ejected" in reported[dead_target.id]["reason"]


def test_a_post_is_not_retried(published, attach, backends):
    import requests

    attach(LoadBalancing, passive_failures=0)
    attach(UpstreamTarget, url=f"http://127.0.0.1:{free_port()}")
    add_targets(attach, backends[:1])
    statuses = Counter(
        requests.post(
            published.url + "/pets",
            json={},
            headers={"Authorization": f"Bearer {published.token(scope='pets:write')}"},
            timeout=10,
        ).status_code
        for _ in range(4)
    )
    assert statuses == {200: 2, 502: 2}


def test_5xx_answers_eject_a_target(published, attach, backends):
    attach(LoadBalancing, passive_failures=2, ejection_seconds=60)
    add_targets(attach, backends[:2])
    backends[0].status = 503
    codes = [published.get("/pets/1", token=published.token()).status_code for _ in range(20)]
    assert codes.count(503) == 2  # passed through until the target was ejected
    assert backends[0].hits == 2


def test_active_checks_take_a_target_out_and_bring_it_back(published, attach, backends):
    attach(
        LoadBalancing,
        health_check_path="/healthz",
        health_check_interval=0.2,
        healthy_threshold=2,
        unhealthy_threshold=1,
        passive_failures=0,
    )
    targets = add_targets(attach, backends[:2])
    assert published.get("/pets/1", token=published.token()).status_code == 200  # starts checks
    backends[1].status = 500  # its health check (and calls) now fail
    deadline = time.monotonic() + 5
    while balancer.state(targets[1].id).healthy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert balancer.state(targets[1].id).healthy is False
    before = backends[1].requests.copy()
    for _ in range(10):
        published.get("/pets/1", token=published.token())
    calls = [r for r in backends[1].requests[len(before) :] if r["path"] != "/healthz"]
    assert calls == []
    backends[1].status = 200
    deadline = time.monotonic() + 5
    while not balancer.state(targets[1].id).healthy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert balancer.state(targets[1].id).healthy is True
    assert any(r["path"] == "/healthz" for r in backends[1].requests)


def test_targets_must_be_origins(published):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="origin"):
        UpstreamTarget(api=published.api, url="http://127.0.0.1:9/path").full_clean()
    with pytest.raises(ValidationError):
        UpstreamTarget(api=published.api, url="http://127.0.0.1:9", weight=0).full_clean()


def test_activation_refuses_load_balancing_without_targets(published, attach):
    from apis.services import activation_problems

    attach(LoadBalancing)
    assert any("no upstream targets" in p for p in activation_problems(Api.objects.get()))


class _HangsUp:
    """A target that reads each request and closes the connection without answering
    (as a target killed mid-call does)."""

    def __init__(self):
        import socket
        import threading

        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.calls = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.recv(65536)
            self.calls += 1
            conn.close()

    def stop(self):
        self.listener.close()


def test_a_get_the_target_hung_up_on_is_retried_and_a_post_is_not(published, attach, backends):
    import requests

    attach(LoadBalancing, passive_failures=0)
    hangs_up = _HangsUp()
    try:
        attach(UpstreamTarget, url=hangs_up.url)
        add_targets(attach, backends[:1])
        token = published.token()
        gets = Counter(published.get("/pets/1", token=token).status_code for _ in range(10))
        assert gets == {200: 10}, gets  # each hang-up was retried on the other target
        assert hangs_up.calls >= 1
        posts = Counter(
            requests.post(
                published.url + "/pets",
                json={},
                headers={"Authorization": f"Bearer {published.token(scope='pets:write')}"},
                timeout=10,
            ).status_code
            for _ in range(10)
        )
        assert 502 in posts, posts  # a POST the target may have acted on is never retried
    finally:
        hangs_up.stop()
