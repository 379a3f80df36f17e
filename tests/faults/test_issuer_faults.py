"""Issuer faults (docs/security.md, Fault behaviour) that
tests/authservers/test_key_lifecycle.py leaves open.

(That module covers: JWKS answering 500/HTML/empty/3 MB/hang/drip, 50 concurrent calls
with a new kid, a key dropped from a fresh JWKS, never-fetched and stale keys, and a
restart from the stored snapshot in the test process.)
"""

import math
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from django.core.cache import cache

from authservers.keysets import SNAPSHOT_CACHE_KEY
from authservers.models import AuthorizationServer, JwksSnapshot
from authservers.tasks import refresh_jwks as refresh_task
from tests.faults.upstreams import drip_json_head
from tests.servers import ScriptedServer
from tests.tokens import new_rsa_key


def forged_with_random_kid(published) -> str:
    return published.token(key=new_rsa_key(uuid.uuid4().hex))


def test_a_random_kid_flood_fetches_at_most_once_per_interval(published, settings):
    """With a 1 s interval, a flood of N seconds fetches at most ceil(N) times, and again later."""
    settings.GATEWAY_KID_REFRESH_INTERVAL = 1.0
    assert published.get("/pets", published.token()).status_code == 200
    fetches = published.idp.hits
    forged = [forged_with_random_kid(published) for _ in range(40)]
    statuses: list[int] = []
    stop = time.monotonic() + 3.5

    def flood(offset: int) -> None:
        # A new connection per call: the in-process test server drops reused keep-alive
        # connections now and then under pytest, which is not what this test is about.
        n = offset
        while time.monotonic() < stop:
            token = forged[n % len(forged)]
            n += 1
            response = requests.get(
                published.url + "/pets", headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            statuses.append(response.status_code)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(flood, range(16)))
    elapsed = time.monotonic() - started  # calls in flight at the deadline still count
    assert len(statuses) > 100
    assert set(statuses) == {401}
    made = published.idp.hits - fetches
    assert 2 <= made <= math.ceil(elapsed / 1.0), f"{made} fetches in {elapsed:.1f} s"
    assert published.upstream.hits == 1


def test_a_discovery_document_that_changes_issuer_is_refused_and_old_keys_kept(published):
    token = published.token()
    assert published.get("/pets", token).status_code == 200
    published.idp.discovery_issuer = "https://evil.example.com"
    rotated = new_rsa_key("rsa-rotated")
    published.idp.keys = [*published.idp.keys, rotated]
    fetches = published.idp.hits
    discoveries = published.idp.discovery_hits

    outcome = refresh_task(published.server.pk)  # Celery beat's refresh
    assert outcome["ok"] is False
    assert "evil.example.com" in outcome["error"]
    snapshot = JwksSnapshot.objects.get(server=published.server)
    assert sorted(snapshot.key_ids) == ["ec-1", "rsa-1"]
    assert snapshot.last_error_at is not None

    # Through the proxy: the old keys keep working, and the unknown kid's refresh is
    # refused at discovery, before the JWKS could be fetched.
    assert published.get("/pets", published.token(sub="other")).status_code == 200
    response = published.get("/pets", published.token(key=rotated))
    assert response.status_code == 401
    assert published.idp.discovery_hits > discoveries + 1  # the kid refresh did try
    assert published.idp.hits == fetches  # the JWKS of an impostor issuer is never read
    assert published.get("/pets", token).status_code == 200


def test_an_idp_dripping_its_headers_cannot_hold_the_refresh(published, settings, caplog):
    settings.JWKS_READ_TIMEOUT = 1.0
    settings.JWKS_TOTAL_TIMEOUT = 2.0
    token = published.token()
    assert published.get("/pets", token).status_code == 200

    dripping = ScriptedServer(drip_json_head)
    try:
        AuthorizationServer.objects.filter(pk=published.server.pk).update(
            jwks_uri=f"{dripping.url}/jwks"
        )
        started = time.monotonic()
        outcome = refresh_task(published.server.pk)
        assert time.monotonic() - started < 4
        assert outcome["ok"] is False
        # The admin's message does not say "timed out" (that would map filtered ports);
        # the log does.
        assert "could not be fetched" in outcome["error"]
        assert "timed out" in caplog.text
        assert sorted(outcome["key_ids"]) == ["ec-1", "rsa-1"]
        assert published.get("/pets", token).status_code == 200
    finally:
        dripping.stop()


def test_a_hanging_idp_during_an_unknown_kid_refresh_does_not_stall_valid_calls(
    published, settings
):
    settings.JWKS_READ_TIMEOUT = 3.0
    settings.JWKS_TOTAL_TIMEOUT = 3.0
    assert published.get("/pets", published.token()).status_code == 200
    published.idp.mode = "hang"
    published.idp.hang_seconds = 5
    forged = forged_with_random_kid(published)
    blocked = threading.Thread(target=published.get, args=("/pets", forged))
    blocked.start()  # holds the single-flight refresh for up to 3 s
    time.sleep(0.3)
    try:
        for n in range(10):
            started = time.monotonic()
            response = published.get("/pets", published.token(sub=f"valid-{n}"))
            assert response.status_code == 200
            assert time.monotonic() - started < 0.5
    finally:
        blocked.join(10)


def test_a_gateway_started_while_the_idp_is_down_serves_from_the_stored_snapshot(
    published, production_gateway
):
    token = published.token()
    assert published.get("/pets", token).status_code == 200  # the snapshot is now in the DB
    published.idp.mode = "error"
    fetches = published.idp.hits
    gateway = production_gateway()  # a new process: no keys in memory, its own cache
    response = requests.get(
        f"{gateway.url}/gateway/petstore/v1/pets",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert published.idp.hits == fetches


def test_a_gateway_started_while_the_idp_is_down_without_snapshot_is_503(
    published, production_gateway
):
    # Activation fetched the keys; without that snapshot (in the DB and, with Redis, in the
    # shared cache) no process has ever had any.
    JwksSnapshot.objects.filter(server=published.server).delete()
    cache.delete(SNAPSHOT_CACHE_KEY.format(published.server.pk))
    published.idp.mode = "error"
    gateway = production_gateway()
    response = requests.get(
        f"{gateway.url}/gateway/petstore/v1/pets",
        headers={"Authorization": f"Bearer {published.token()}"},
        timeout=10,
    )
    assert response.status_code == 503
    assert response.json()["code"] == "issuer_unavailable"
    assert response.headers["Retry-After"].isdigit()
    assert published.upstream.hits == 0
