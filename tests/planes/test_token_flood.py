"""A flood of wrong client secrets at /oauth2/token (a full PBKDF2 each) runs in the control
plane's processes, at a lower CPU priority: proxied calls keep their latency."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from applications.services import create_application
from authservers.models import AuthorizationServer

CALLS = 400


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int(len(ordered) * 0.99) - 1]


def proxied_latencies(url: str, token: str) -> list[float]:
    def worker(count: int) -> list[float]:
        session = requests.Session()
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            response = session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            samples.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        return samples

    with ThreadPoolExecutor(4) as pool:
        return [s for batch in pool.map(worker, [CALLS // 4] * 4) for s in batch]


@pytest.mark.serial
def test_wrong_secret_floods_do_not_move_proxied_p99_beyond_2x(published, production_gateway):
    AuthorizationServer.objects.create(
        name="Gatekeep", kind="internal", issuer="http://127.0.0.1", required_typ="at+jwt"
    )
    application, _secret = create_application(name="Flooded", apis=[published.api])
    gateway = production_gateway(workers=2)
    url = f"{gateway.url}/gateway/petstore/v1/pets"
    token = published.token()
    proxied_latencies(url, token)  # warm up: keys, token cache, upstream pool
    baseline = p99(proxied_latencies(url, token))

    stop = threading.Event()
    refused = []

    def flood() -> None:
        session = requests.Session()
        while not stop.is_set():
            response = session.post(
                f"{gateway.url}/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(application.client_id, "wrong-secret"),
                timeout=30,
            )
            refused.append(response.status_code)

    flooders = [threading.Thread(target=flood, daemon=True) for _ in range(16)]
    for thread in flooders:
        thread.start()
    try:
        time.sleep(1.0)  # the control plane is busy hashing by now
        under_flood = p99(proxied_latencies(url, token))
    finally:
        stop.set()
        for thread in flooders:
            thread.join(timeout=60)
    assert refused and all(status in {400, 401, 429} for status in refused), set(refused)
    print(f"proxied p99: {baseline * 1000:.1f} ms idle, {under_flood * 1000:.1f} ms under flood")
    assert under_flood <= 2 * baseline, (baseline, under_flood)
