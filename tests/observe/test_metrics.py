"""/metrics: what a scraper sees after known calls, and who may scrape it."""

import requests
from django.test import Client

from tests.observe.helpers import local_samples, samples, value

PETSTORE = {"api": "Petstore v1", "application": "Petstore client"}


def test_it_counts_calls_by_api_route_application_and_status_class(published):
    before = local_samples()
    token = published.token()
    for _ in range(3):
        assert published.get("/pets", token).status_code == 200
    assert published.get("/pets/7", token).status_code == 200
    assert published.get("/pets").status_code == 401  # no token
    assert published.get("/nowhere", token).status_code == 404  # no route
    outside = requests.get(f"{published.gateway.url}/gateway/unknown/v9/x", timeout=5)
    assert outside.status_code == 404
    after = local_samples()

    def delta(name: str, **labels) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests_total = "gatekeep_requests_total"
    assert delta(requests_total, route="GET /pets", status_class="2xx", **PETSTORE) == 3
    assert delta(requests_total, route="GET /pets/{id}", status_class="2xx", **PETSTORE) == 1
    assert (
        delta(
            requests_total,
            api="Petstore v1",
            route="GET /pets",
            application="-",
            status_class="4xx",
        )
        == 1
    )
    assert delta(requests_total, api="Petstore v1", route="-", application="-", status_class="4xx")
    assert delta(requests_total, api="-", route="-", application="-", status_class="4xx") == 1
    assert delta("gatekeep_refusals_total", api="Petstore v1", code="missing_token") == 1
    assert delta("gatekeep_refusals_total", api="Petstore v1", code="route_not_found") == 1
    assert delta("gatekeep_refusals_total", api="-", code="api_not_found") == 1
    # Latency split: 4 forwarded calls timed upstream, all 7 timed in the gateway.
    assert delta("gatekeep_upstream_duration_seconds_count", api="Petstore v1") == 4
    assert delta("gatekeep_gateway_duration_seconds_count", api="Petstore v1") == 6
    assert delta("gatekeep_gateway_duration_seconds_count", api="-") == 1


def test_upstream_failures_are_counted_by_kind(published):
    before = local_samples()
    published.upstream.stop()
    response = published.get("/pets", published.token())
    assert response.status_code == 502
    after = local_samples()
    labels = {"api": "Petstore v1", "kind": "unavailable"}
    assert (
        value(after, "gatekeep_upstream_errors_total", **labels)
        - value(before, "gatekeep_upstream_errors_total", **labels)
        == 1
    )


def test_config_version_and_build_time_are_exposed(published):
    assert published.get("/pets", published.token()).status_code == 200
    found = local_samples()
    assert value(found, "gatekeep_config_version") >= 1
    assert value(found, "gatekeep_config_built_timestamp_seconds") > 1.7e9


def test_token_cache_hits_and_misses_are_published(published):
    from proxy.observe import _housekeeping

    _housekeeping()
    before = local_samples()
    token = published.token()
    for _ in range(3):
        assert published.get("/pets", token).status_code == 200
    _housekeeping()  # what each worker's background thread does every few seconds
    after = local_samples()
    hits = value(after, "gatekeep_token_cache_total", result="hit") - value(
        before, "gatekeep_token_cache_total", result="hit"
    )
    misses = value(after, "gatekeep_token_cache_total", result="miss") - value(
        before, "gatekeep_token_cache_total", result="miss"
    )
    # The first sight is a miss (twice when the decision re-runs in a thread for its keys).
    assert hits == 2
    assert misses in (1, 2)


def test_the_admin_listener_serves_metrics_to_an_allowed_address(published, settings):
    assert published.get("/pets", published.token()).status_code == 200
    response = Client().get("/metrics")  # the test client's address is 127.0.0.1
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert 'gatekeep_requests_total{api="Petstore v1"' in body
    # Key sets come from the database, per issuer.
    found = samples(body)
    snapshot = published.server.jwks_snapshot
    snapshot.refresh_from_db()
    assert value(found, "gatekeep_issuer_keys", issuer="Test IdP") == len(snapshot.keys) > 0
    assert value(found, "gatekeep_issuer_last_fetch_ok", issuer="Test IdP") == 1
    assert 0 <= value(found, "gatekeep_issuer_keys_age_seconds", issuer="Test IdP") < 60


def test_anyone_else_needs_the_bearer_token(db, settings):
    settings.GATEWAY_METRICS_ALLOW = ["10.0.0.0/8"]
    settings.GATEWAY_METRICS_TOKEN = "scrape-secret-1"
    client = Client()
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic scrape-secret-1").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200


def test_no_token_configured_means_no_token_accepted(db, settings):
    settings.GATEWAY_METRICS_ALLOW = []
    settings.GATEWAY_METRICS_TOKEN = ""
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_the_public_listener_serves_metrics_only_when_told(published, settings):
    url = f"{published.gateway.url}/metrics"
    assert requests.get(url, timeout=5).status_code == 404
    settings.GATEWAY_METRICS_ON_PUBLIC = True
    settings.GATEWAY_METRICS_ALLOW = []
    settings.GATEWAY_METRICS_TOKEN = "scrape-secret-2"
    assert requests.get(url, timeout=5).status_code == 404
    answer = requests.get(url, headers={"Authorization": "Bearer scrape-secret-2"}, timeout=5)
    assert answer.status_code == 200
    assert "gatekeep_requests_total" in answer.text or "gatekeep_config" in answer.text
