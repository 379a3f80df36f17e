"""Keys over time: IdP rotation, unknown-kid refreshes, outages and staleness
(docs/security.md, Token rules E and Fault behaviour)."""

import threading
import time

import pytest
from django.core.cache import cache

from authservers.keystore import key_store
from authservers.models import JwksSnapshot
from authservers.tasks import refresh_jwks as refresh_task
from proxy.config import config_holder
from proxy.tokens import verified_tokens
from tests.tokens import new_rsa_key


def test_a_new_kid_at_the_idp_is_accepted_after_one_on_demand_refresh(published):
    assert published.get("/pets", published.token()).status_code == 200
    fetches = published.idp.hits
    rotated = new_rsa_key("rsa-2")
    published.idp.keys = [*published.idp.keys, rotated]
    response = published.get("/pets", published.token(key=rotated))
    assert response.status_code == 200, response.text
    assert published.idp.hits == fetches + 1


def test_a_burst_of_unknown_kids_causes_at_most_one_fetch(published):
    assert published.get("/pets", published.token()).status_code == 200
    fetches = published.idp.hits
    strangers = [published.token(key=new_rsa_key(f"ghost-{n}")) for n in range(3)]
    results = []

    def call(token):
        results.append(published.get("/pets", token).status_code)

    threads = [threading.Thread(target=call, args=(strangers[n % 3],)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [401] * 30
    assert published.idp.hits - fetches <= 1


def test_fifty_concurrent_calls_with_a_new_kid_cause_exactly_one_fetch(published):
    assert published.get("/pets", published.token()).status_code == 200
    fetches = published.idp.hits
    rotated = new_rsa_key("rsa-3")
    published.idp.keys = [*published.idp.keys, rotated]
    token = published.token(key=rotated)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(published.get("/pets", token).status_code))
        for _ in range(50)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 50
    assert published.idp.hits == fetches + 1


def test_a_key_dropped_from_a_fresh_jwks_is_rejected(published, rsa_key, ec_key):
    token = published.token()
    assert published.get("/pets", token).status_code == 200
    published.idp.keys = [ec_key]
    assert refresh_task(published.server.pk)["ok"] is True
    time.sleep(0.1)
    key_store.forget()  # as every worker does within GATEWAY_KEYS_POLL_SECONDS
    response = published.get("/pets", token)
    assert response.status_code == 401
    assert "unknown" in response.json()["detail"]


@pytest.mark.parametrize("mode", ["error", "html", "empty", "huge", "hang", "drip"])
def test_a_failing_idp_keeps_the_last_good_keys(published, settings, mode):
    settings.JWKS_READ_TIMEOUT = 0.5
    settings.JWKS_TOTAL_TIMEOUT = 1.5
    token = published.token()
    assert published.get("/pets", token).status_code == 200
    published.idp.mode = mode
    published.idp.hang_seconds = 3
    started = time.monotonic()
    outcome = refresh_task(published.server.pk)  # returns normally, never raises
    assert time.monotonic() - started < 3
    assert outcome["ok"] is False
    assert outcome["key_ids"] == ["rsa-1", "ec-1"]
    snapshot = JwksSnapshot.objects.get(server=published.server)
    assert snapshot.last_error
    assert snapshot.last_error_at is not None
    assert sorted(snapshot.key_ids) == ["ec-1", "rsa-1"]
    key_store.forget()
    verified_tokens.clear()
    assert published.get("/pets", token).status_code == 200


def test_no_keys_ever_fetched_is_503_issuer_unavailable(published):
    # Activation fetched the keys; without its snapshot the gateway has never had any.
    JwksSnapshot.objects.filter(server=published.server).delete()
    cache.clear()
    key_store.forget()
    verified_tokens.clear()
    published.idp.mode = "error"
    response = published.get("/pets", published.token())
    assert response.status_code == 503
    assert response.json()["code"] == "issuer_unavailable"
    assert response.headers["Retry-After"].isdigit()
    assert published.upstream.hits == 0


def test_keys_older_than_max_stale_are_503(published):
    token = published.token()
    assert published.get("/pets", token).status_code == 200
    published.idp.mode = "error"
    JwksSnapshot.objects.filter(server=published.server).update(
        fetched_at=JwksSnapshot.objects.get(server=published.server).fetched_at
        - __import__("datetime").timedelta(days=2)
    )
    from django.core.cache import cache

    cache.clear()
    key_store.forget()
    response = published.get("/pets", token)
    assert response.status_code == 503
    assert response.json()["code"] == "issuer_unavailable"
    assert "Retry-After" in response.headers


def test_a_restarted_gateway_serves_from_the_stored_snapshot_while_the_idp_is_down(published):
    token = published.token()
    assert published.get("/pets", token).status_code == 200
    published.idp.mode = "error"
    fetches = published.idp.hits
    # A restart: every process cache is gone, the shared cache too.
    from django.core.cache import cache

    cache.clear()
    key_store.forget()
    config_holder.invalidate()
    verified_tokens.clear()
    assert published.get("/pets", token).status_code == 200
    assert published.idp.hits == fetches
