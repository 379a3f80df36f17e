"""CORS: preflights answered by the gateway, actual calls get the headers, the rest none."""

import pytest
import requests
from django.core.exceptions import ValidationError

from policies.models import CorsPolicy

ORIGIN = "https://app.example.com"


@pytest.fixture
def cors(attach):
    return attach(
        CorsPolicy,
        allowed_origins=[ORIGIN, "https://*.partner.example"],
        allowed_headers=["Authorization", "Content-Type"],
        exposed_headers=["X-Total-Count"],
        max_age_seconds=300,
    )


def preflight(published, origin, method="GET", headers="authorization"):
    return requests.options(
        published.url + "/pets",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
        timeout=10,
    )


def test_a_preflight_is_answered_without_a_token_and_without_the_upstream(published, cors):
    response = preflight(published, ORIGIN)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD, POST, PUT, PATCH, DELETE"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert response.headers["Access-Control-Max-Age"] == "300"
    assert response.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert published.upstream.hits == 0


def test_an_actual_call_gets_the_cors_headers(published, cors):
    published.upstream.extra_headers = [("Access-Control-Allow-Origin", "*")]
    response = published.get(token=published.token(), headers={"Origin": ORIGIN})
    assert response.status_code == 200
    # The upstream's own "*" never widens the API's policy.
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Expose-Headers"] == "X-Total-Count"
    assert response.headers["Vary"] == "Origin"


def test_a_refusal_carries_the_cors_headers_so_the_page_can_read_it(published, cors):
    response = published.get(headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.json()["code"] == "missing_token"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize(
    "origin",
    [
        "null",
        "https://evilapp.example.com",  # not the same host
        "https://app.example.com.evil.net",  # the allowed origin as a prefix
        "http://app.example.com",  # another scheme
        "https://app.example.com:8443",  # another port
        "https://APP.example.com",  # browsers send lower case; anything else is forged
        "https://app.example.com/",
        "https://evilpartner.example",  # suffix without a label boundary
        "https://partner.example",  # the pattern's bare domain
        "https://x.partner.example.evil.net",
        "https://x.partner.example\r\nX-Injected: 1",
    ],
)
def test_a_disallowed_origin_gets_no_cors_header(published, cors, origin):
    if "\r" in origin:
        # requests refuses to send it; the raw form would be refused by the server itself.
        return
    response = published.get(token=published.token(), headers={"Origin": origin})
    assert response.status_code == 200
    assert not any(name.lower().startswith("access-control-") for name in response.headers)
    assert response.headers["Vary"] == "Origin"
    refused = preflight(published, origin)
    assert refused.status_code == 403
    assert refused.json()["code"] == "cors_origin_not_allowed"
    # A refused preflight carries Vary: Origin and no CORS header at all.
    assert not any(name.lower().startswith("access-control-") for name in refused.headers)
    assert refused.headers["Vary"] == "Origin"
    assert published.upstream.hits == 1


def test_a_refused_preflight_of_an_allowed_origin_carries_only_vary(published, cors):
    for refused in (
        preflight(published, ORIGIN, headers="authorization, x-admin"),
        preflight(published, ORIGIN, method="PROPFIND"),
    ):
        assert refused.status_code == 403
        assert not any(name.lower().startswith("access-control-") for name in refused.headers)
        assert refused.headers["Vary"] == "Origin"
    assert published.upstream.hits == 0


def test_a_cors_answer_is_worked_out_once_per_exact_origin(published, cors):
    from proxy.stages.cors import compile_cors

    compiled = compile_cors(
        {
            "origins": [ORIGIN, "https://*.partner.example"],
            "methods": ["GET"],
            "headers": [],
            "exposed": ["X-Total-Count"],
            "credentials": True,
            "max_age": 300,
        }
    )
    assert set(compiled.answers) == {ORIGIN}
    assert compiled.answers[ORIGIN].raw == (
        (b"access-control-allow-origin", ORIGIN.encode()),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-expose-headers", b"X-Total-Count"),
        (b"vary", b"Origin"),
    )
    assert compiled.answer("https://a.partner.example").text[0] == (
        "Access-Control-Allow-Origin",
        "https://a.partner.example",
    )
    assert compiled.answer("https://evilpartner.example") is None
    assert compiled.answer("null") is None


def test_a_subdomain_pattern_matches_at_a_label_boundary(published, cors):
    for origin in ("https://a.partner.example", "https://a.b.partner.example"):
        response = published.get(token=published.token(), headers={"Origin": origin})
        assert response.headers["Access-Control-Allow-Origin"] == origin


def test_a_preflight_for_a_header_or_method_not_allowed_is_refused(published, cors):
    assert preflight(published, ORIGIN, headers="authorization, x-admin").status_code == 403
    assert preflight(published, ORIGIN, method="PROPFIND").status_code == 403
    assert published.upstream.hits == 0


def test_without_a_cors_policy_a_preflight_goes_the_old_way(published):
    assert preflight(published, ORIGIN).status_code == 405


def test_null_and_wildcards_with_credentials_cannot_be_saved(published):
    with pytest.raises(ValidationError, match="sandboxed"):
        CorsPolicy(api=published.api, allowed_origins=["null"]).full_clean()
    with pytest.raises(ValidationError, match="Credentials"):
        CorsPolicy(api=published.api, allowed_origins=["*"], allow_credentials=True).full_clean()
    with pytest.raises(ValidationError, match="not an origin"):
        CorsPolicy(api=published.api, allowed_origins=["https://a.example.com/path"]).full_clean()
    # A pattern over a top-level domain would admit every site under it.
    with pytest.raises(ValidationError, match=r"every site under \.com"):
        CorsPolicy(api=published.api, allowed_origins=["https://*.com"]).full_clean()
