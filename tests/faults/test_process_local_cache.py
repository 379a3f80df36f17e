"""Several gateway processes without a shared cache (the embedded default, or Redis left
out by mistake) still converge: the config version and the key snapshots live in the
database, which every process polls (issue 12, "failure modes a new user hit")."""

import time

import requests

from apis.services import deactivate_api
from applications.choices import ApplicationStatus


def hit_every_worker(url: str, token: str, calls: int = 12) -> list[int]:
    """New connections each time, so the kernel spreads them over both workers."""
    return [
        requests.get(
            url,
            headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            timeout=10,
        ).status_code
        for _ in range(calls)
    ]


def converged(url: str, token: str, expected: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if set(hit_every_worker(url, token)) == {expected}:
            return True
        time.sleep(0.2)
    return False


def test_two_workers_without_a_shared_cache_converge_on_a_deactivation(
    published, production_gateway
):
    gateway = production_gateway(env={"REDIS_URL": ""}, workers=2)
    assert len(gateway.worker_pids()) == 2
    url = f"{gateway.url}/gateway/petstore/v1/pets"
    token = published.token()
    assert set(hit_every_worker(url, token)) == {200}
    deactivate_api(published.api)
    # The documented bound: GATEWAY_CONFIG_POLL_SECONDS (0.5 s) plus a rebuild.
    assert converged(url, token, 404, within=3.0)


def test_two_workers_without_a_shared_cache_converge_on_a_suspension(published, production_gateway):
    gateway = production_gateway(env={"REDIS_URL": ""}, workers=2)
    url = f"{gateway.url}/gateway/petstore/v1/pets"
    token = published.token()
    assert set(hit_every_worker(url, token)) == {200}
    published.application.status = ApplicationStatus.SUSPENDED
    published.application.save()
    assert converged(url, token, 403, within=3.0)


def test_a_new_process_serves_from_the_stored_keys_while_the_idp_is_down(
    published, production_gateway
):
    published.get("/pets", published.token())  # the keys are fetched and stored
    published.idp.mode = "error"
    gateway = production_gateway(env={"REDIS_URL": ""}, workers=2)
    url = f"{gateway.url}/gateway/petstore/v1/pets"
    assert set(hit_every_worker(url, published.token())) == {200}
