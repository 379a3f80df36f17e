"""The token inspector runs the proxy's own decide(): its verdict matches a real call."""

import re
import time

import pytest
import requests

from apis.models import IdentifyAndAuthorizePolicy
from apis.services import deactivate_api
from tests.rest_api.crud import assert_field_errors
from tests.tokens import new_rsa_key

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


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer  ", " BEARER "])
def test_a_token_pasted_with_its_bearer_prefix_is_inspected_as_the_console_does(
    published, inspect, prefix
):
    result = inspect(prefix + published.token())
    assert (result["allowed"], result["application"]) == (True, "Petstore client")


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
    assert result["trace"] == [
        {
            "check": "route",
            "ok": False,
            "detail": result["detail"],
            "admin_detail": result["detail"],
            "expected": None,
            "actual": None,
        }
    ]


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


# --- expected versus actual, for admins only (issue 12) --------------------------------

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00"


def failed_step(result: dict) -> dict:
    *passed, last = result["trace"]
    assert all(step["ok"] for step in passed) and last["ok"] is False
    assert result["admin_detail"] == last["admin_detail"]
    return last


def assert_clients_do_not_learn(published, token: str, *secrets: str) -> None:
    """The proxied client gets the short detail only: no expected values anywhere."""
    real = published.get("/pets", token)
    assert real.status_code in {401, 403}
    for secret in secrets:
        assert secret not in real.text
        assert secret not in real.headers.get("WWW-Authenticate", "")


def test_a_wrong_audience_shows_the_expected_audiences_to_admins_only(published, inspect):
    token = published.token(aud=["billing", "ledger"])
    step = failed_step(inspect(token))
    assert step["check"] == "aud"
    assert step["detail"] == "The token is not meant for this API (aud)."
    assert step["expected"] == {"aud": ["petstore"]}
    assert step["actual"] == {"aud": ["billing", "ledger"]}
    assert step["admin_detail"].startswith("None of the token's audiences is one of the API's.")
    assert_clients_do_not_learn(published, token, '"petstore"', "expected")


def test_a_missing_audience_shows_the_client_id_it_fell_back_to(published, inspect):
    step = failed_step(inspect(published.token(aud=None)))
    assert step["expected"] == {"aud": ["petstore"]}
    assert step["actual"] == {"aud": None, "client_id": "petstore-client"}


def test_an_untrusted_issuer_shows_the_trusted_ones(published, inspect):
    token = published.token(iss=published.idp.issuer + "/")
    step = failed_step(inspect(token))
    assert step["check"] == "issuer"
    assert step["expected"] == {"iss": [published.idp.issuer]}
    assert step["actual"] == {"iss": published.idp.issuer + "/"}
    assert "trailing '/'" in step["admin_detail"]
    assert_clients_do_not_learn(published, token, published.idp.issuer)


def test_an_expired_token_says_when_it_expired_and_how_long_ago(published, inspect):
    exp = int(time.time()) - 2 * 3600 - 5 * 60
    step = failed_step(inspect(published.token(exp=exp)))
    assert step["check"] == "exp"
    assert re.fullmatch(rf"{ISO} \(2 h 5 min ago\)", step["actual"]["exp"]), step
    assert re.fullmatch(rf"later than {ISO} \(now - 60 s leeway\)", step["expected"]["exp"])
    assert step["admin_detail"].startswith("The token expired at ")
    assert "60 s leeway" in step["admin_detail"]


def test_a_token_not_valid_yet_says_from_when(published, inspect):
    step = failed_step(inspect(published.token(nbf=int(time.time()) + 3 * 86400 + 7230)))
    assert step["check"] == "nbf"
    assert re.fullmatch(rf"{ISO} \(3 days 2 h from now\)", step["actual"]["nbf"]), step
    assert "clocks" in step["admin_detail"]


def test_a_token_issued_in_the_future_says_when(published, inspect):
    step = failed_step(inspect(published.token(iat=int(time.time()) + 600)))
    assert step["check"] == "iat"
    assert re.fullmatch(rf"{ISO} \((9|10) min( \d+ s)? from now\)", step["actual"]["iat"])


def test_a_disallowed_algorithm_lists_the_allowed_ones(published, inspect, ec_key):
    published.server.allowed_algorithms = ["RS256", "PS256"]
    published.server.save()
    published.gateway_wait_for_reload()
    step = failed_step(inspect(published.token(key=ec_key)))
    assert step["check"] == "alg"
    assert step["expected"] == {"alg": ["PS256", "RS256"]}
    assert step["actual"] == {"alg": "ES256"}


def test_an_unknown_key_lists_the_key_ids_the_issuer_publishes(published, inspect):
    step = failed_step(inspect(published.token(key=new_rsa_key("rsa-elsewhere"))))
    assert step["check"] == "key"
    assert step["expected"] == {"kid": ["ec-1", "rsa-1"]}
    assert step["actual"] == {"kid": "rsa-elsewhere"}


def test_missing_scopes_show_the_required_and_the_granted_ones(published, inspect):
    step = failed_step(inspect(published.token(scope="pets:write profile")))
    assert step["check"] == "scopes"
    assert step["expected"] == {"scope": ["pets:read"]}
    assert step["actual"] == {"scope": ["pets:write", "profile"]}
    assert step["admin_detail"].endswith("the token lacks pets:read.")


def test_an_unknown_application_shows_the_identifying_claims(published, inspect):
    step = failed_step(inspect(published.token(client_id="stranger")))
    assert step["expected"] == {"claims": ["client_id"]}
    assert step["actual"] == {"client_id": "stranger"}


def test_passed_checks_show_their_facts_too(published, inspect):
    steps = {step["check"]: step for step in inspect(published.token())["trace"]}
    assert steps["issuer"]["actual"] == {"iss": published.idp.issuer}
    assert steps["aud"]["expected"] == {"aud": ["petstore"]}
    assert steps["key"]["actual"] == {"kid": "rsa-1"}
    assert set(steps["lifetime"]["actual"]) == {"exp", "nbf", "iat"}
    assert steps["scopes"]["actual"]["scope"] == ["pets:read", "pets:write"]


def test_a_malformed_segment_is_one_failed_format_step_not_ok_then_failed(published, inspect):
    header, payload, signature = published.token().split(".")
    while len(signature) % 4 != 1:  # 4n+1 characters are never base64url
        signature += "A"
    result = inspect(f"{header}.{payload}.{signature}")
    assert [(step["check"], step["ok"]) for step in result["trace"]] == [
        ("route", True),
        ("format", False),
    ]
    assert result["trace"][-1]["expected"] == {
        "format": "header.payload.signature, each base64url without padding"
    }
