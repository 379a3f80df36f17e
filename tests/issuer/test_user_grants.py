"""End users: the password grant, the authorization-code flow with PKCE, and refresh."""

from urllib.parse import urlencode

import requests

from tests.issuer.conftest import REDIRECT_URI, authorize, pkce_pair, redirect_params


def test_the_password_grant_issues_a_user_token_the_gateway_accepts(issuer):
    body = issuer.password_token(scope="pets:read")

    claims = issuer.verify(body["access_token"])
    assert claims["sub"] == str(issuer.user.pk)
    assert claims["preferred_username"] == "alice"
    assert claims["client_id"] == issuer.client_id
    assert body["refresh_token"]
    response = issuer.call(body["access_token"])
    assert response.status_code == 200, response.text
    assert issuer.upstream.last["headers"]["x-gateway-subject"] == str(issuer.user.pk)
    assert issuer.upstream.last["headers"]["x-gateway-application"] == "Petstore app"


def test_a_wrong_user_password_is_invalid_grant(issuer):
    response = issuer.token_response(grant_type="password", username="alice", password="nope")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_refresh_issues_a_new_token_and_the_old_refresh_token_dies(issuer):
    first = issuer.password_token(scope="pets:read")

    second = issuer.token("refresh_token", refresh_token=first["refresh_token"])

    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    claims = issuer.verify(second["access_token"])
    assert claims["sub"] == str(issuer.user.pk)
    assert claims["scope"] == "pets:read"
    assert issuer.call(second["access_token"]).status_code == 200
    replay = issuer.token_response(grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_a_refreshed_token_keeps_its_audience(issuer, orders_api):
    first = issuer.password_token(audience="orders")

    second = issuer.token("refresh_token", refresh_token=first["refresh_token"])

    assert issuer.verify(second["access_token"], audience="orders")["aud"] == "orders"


def test_the_authorization_code_flow_with_pkce(issuer, browser):
    verifier, challenge = pkce_pair()

    params = redirect_params(
        authorize(issuer, browser, code_challenge=challenge, code_challenge_method="S256")
    )
    assert params["state"] == "st-123"
    body = issuer.token(
        "authorization_code",
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )

    claims = issuer.verify(body["access_token"])
    assert claims["sub"] == str(issuer.user.pk)
    assert claims["scope"] == "pets:read"
    assert issuer.call(body["access_token"]).status_code == 200
    refreshed = issuer.token("refresh_token", refresh_token=body["refresh_token"])
    assert issuer.call(refreshed["access_token"]).status_code == 200
    # An authorization code works once.
    again = issuer.token_response(
        grant_type="authorization_code",
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_a_wrong_code_verifier_is_refused(issuer, browser):
    _, challenge = pkce_pair()
    params = redirect_params(
        authorize(issuer, browser, code_challenge=challenge, code_challenge_method="S256")
    )

    response = issuer.token_response(
        grant_type="authorization_code",
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        code_verifier=pkce_pair()[0],
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_pkce_is_required_and_plain_is_refused(issuer, browser):
    without = redirect_params(authorize(issuer, browser))
    assert without["error"] == "invalid_request"
    assert without["error_description"] == "Code challenge required."

    plain = redirect_params(
        authorize(issuer, browser, code_challenge="x" * 43, code_challenge_method="plain")
    )
    assert plain["error"] == "invalid_request"


def test_an_anonymous_user_is_sent_to_the_login_page(issuer):
    _, challenge = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": issuer.client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )

    response = requests.get(
        f"{issuer.url}/oauth2/authorize?{query}", allow_redirects=False, timeout=10
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/oauth2/login?next=/oauth2/authorize")
