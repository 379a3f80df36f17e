"""The token inspector runs the proxy's own decide(): its verdict matches a real call."""

import time

import pytest
import requests

from apis.models import IdentifyAndAuthorizePolicy
from apis.services import deactivate_api

from .crud import assert_field_errors

URL = "/api/v1/token-inspector/"
ALLOWED_TRACE = [
    "route",
    "format",
    "header",
    "issuer",
    "alg",
    "key",
    "signature",
    "lifetime",
    "aud",
    "application",
    "scopes",
]


@pytest.fixture
def inspect(published, staff_client):
    def call(token: str, path: str = "/pets", method: str = "GET") -> dict:
        payload = {"token": token, "api": published.api.pk, "method": method, "path": path}
        response = staff_client.post(URL, payload)
        assert response.status_code == 200, response.content
        return response.json()

    return call


def test_a_valid_token_is_allowed_with_every_check_passed_in_order(published, inspect):
    result = inspect(published.token())
    assert result["allowed"] is True
    assert (result["status"], result["code"]) == (200, None)
    assert result["route"] == "GET /pets"
    assert result["application"] == "Petstore client"
    assert result["gateway_path"] == "/gateway/petstore/v1/pets"
    assert [step["check"] for step in result["trace"]] == ALLOWED_TRACE
    assert all(step["ok"] is True and step["detail"] for step in result["trace"])
    assert published.get("/pets", published.token()).status_code == 200


@pytest.mark.parametrize(
    ("claims", "status", "code", "failed_check"),
    [
        ({"exp": int(time.time()) - 3600}, 401, "invalid_token", "exp"),
        ({"aud": "someone-else"}, 401, "invalid_token", "aud"),
        ({"iss": "https://evil.example.com"}, 401, "invalid_token", "issuer"),
        ({"client_id": "stranger"}, 403, "application_not_authorized", "application"),
        ({"scope": "pets:write"}, 403, "insufficient_scope", "scopes"),
    ],
)
def test_a_refused_token_stops_at_the_check_the_proxy_fails(
    published, inspect, claims, status, code, failed_check
):
    token = published.token(**claims)
    result = inspect(token)
    assert result["allowed"] is False
    assert (result["status"], result["code"]) == (status, code)
    last = result["trace"][-1]
    assert (last["check"], last["ok"]) == (failed_check, False)
    assert last["detail"] == result["detail"]
    assert all(step["ok"] for step in result["trace"][:-1])

    real = published.get("/pets", token)
    assert real.status_code == status
    assert real.json()["code"] == code
    assert real.json()["detail"] == result["detail"]


def test_a_tampered_signature_fails_at_the_signature_check(published, inspect):
    token = published.token()
    result = inspect(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    assert (result["status"], result["trace"][-1]["check"]) == (401, "signature")


def test_no_token_on_a_public_route_is_allowed_and_on_a_protected_one_is_401(inspect):
    public = inspect("", path="/health")
    assert public["allowed"] is True and public["application"] is None
    assert [step["check"] for step in public["trace"]] == ["route", "identify"]
    protected = inspect("", path="/pets")
    assert (protected["status"], protected["code"]) == (401, "missing_token")


def test_unknown_routes_methods_and_inactive_apis_are_the_proxys_404_and_405(published, inspect):
    assert inspect(published.token(), path="/nope")["code"] == "route_not_found"
    assert inspect(published.token(), method="DELETE")["status"] == 405
    deactivate_api(published.api)
    published.gateway_wait_for_reload()
    result = inspect(published.token())
    assert (result["status"], result["code"]) == (404, "api_not_found")
    assert result["trace"] == [{"check": "route", "ok": False, "detail": result["detail"]}]


def test_the_token_goes_where_the_policy_reads_it(published, inspect):
    IdentifyAndAuthorizePolicy.objects.filter(api=published.api).update(
        identity_source="query", identity_name="access_token"
    )
    published.gateway_wait_for_reload()
    assert inspect(published.token())["allowed"] is True
    real = requests.get(
        f"{published.url}/pets", params={"access_token": published.token()}, timeout=10
    )
    assert real.status_code == 200


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"api", "method", "path"}),
        ({"api": 999999, "method": "GET", "path": "/pets"}, {"api"}),
        ({"api": "x", "method": "BREW", "path": "pets"}, {"api", "method", "path"}),
        ({"method": "GET", "path": "/pets?a=1"}, {"api", "path"}),
        ({"method": "GET", "path": "/pe ts", "token": 5}, {"api", "path"}),
    ],
)
def test_invalid_requests_are_field_errors(staff_client, payload, fields):
    assert_field_errors(staff_client.post(URL, payload), fields)
