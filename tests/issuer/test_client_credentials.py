"""client_credentials: the gateway issues a JWT and accepts it on the API trusting it."""

import time

import jwt
import requests

from applications.services import update_application


def test_a_client_gets_a_token_and_calls_the_api_through_the_gateway(issuer):
    body = issuer.token(scope="pets:read")
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["scope"] == "pets:read"
    assert "refresh_token" not in body  # RFC 6749 §4.4.3

    response = issuer.call(body["access_token"])

    assert response.status_code == 200, response.text
    seen = issuer.upstream.last
    assert seen["path"] == "/backend/pets"
    # No identifying claims were configured: the client_id alone identifies it.
    assert seen["headers"]["x-gateway-application"] == "Petstore app"
    assert seen["headers"]["x-gateway-subject"] == issuer.client_id
    assert seen["headers"]["x-tenant"] == "acme"


def test_the_token_verifies_with_pyjwt_against_the_published_jwks(issuer):
    token = issuer.token(scope="pets:read pets:write")["access_token"]

    claims = issuer.verify(token)

    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"
    assert header["kid"] == issuer.jwks()["keys"][0]["kid"]
    assert claims["iss"] == issuer.url
    assert claims["sub"] == issuer.client_id
    assert claims["client_id"] == issuer.client_id
    assert claims["aud"] == "petstore"
    assert claims["scope"] == "pets:read pets:write"
    assert claims["tenant"] == "acme"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] == claims["iat"]
    assert abs(claims["iat"] - time.time()) < 10
    assert len(claims["jti"]) == 32
    assert claims["jti"] != issuer.verify(issuer.token()["access_token"])["jti"]


def test_without_a_scope_the_token_carries_every_scope_of_the_applications_apis(issuer):
    claims = issuer.verify(issuer.token()["access_token"])

    assert set(claims["scope"].split()) == {"pets:read", "pets:write"}


def test_a_scope_no_api_of_the_application_declares_is_refused(issuer):
    response = issuer.token_response(grant_type="client_credentials", scope="admin:all")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_the_lifetime_comes_from_the_server(issuer):
    issuer.server.token_lifetime_seconds = 42
    issuer.server.save()

    body = issuer.token()
    claims = issuer.verify(body["access_token"])

    assert body["expires_in"] == 42
    assert claims["exp"] - claims["iat"] == 42


def test_custom_claims_never_override_the_registered_ones(issuer):
    update_application(
        issuer.application,
        custom_claims={"sub": "admin", "iss": "https://evil.example", "scope": "x", "team": "blue"},
    )

    claims = issuer.verify(issuer.token(scope="pets:read")["access_token"])

    assert claims["sub"] == issuer.client_id
    assert claims["iss"] == issuer.url
    assert claims["scope"] == "pets:read"
    assert claims["team"] == "blue"


def test_a_requested_audience_of_one_of_the_applications_apis_becomes_aud(issuer, orders_api):
    token = issuer.token(audience="orders")["access_token"]

    assert issuer.verify(token, audience="orders")["aud"] == "orders"
    assert issuer.call(token).status_code == 401  # not meant for the Petstore API
    response = requests.get(
        f"{issuer.url}/gateway/orders/v1/orders",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_an_audience_the_application_may_not_have_is_invalid_target(issuer):
    response = issuer.token_response(grant_type="client_credentials", audience="payroll")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_target"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"


def test_client_credentials_in_the_body_work_too(issuer):
    response = requests.post(
        f"{issuer.url}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": issuer.client_id,
            "client_secret": issuer.secret,
        },
        timeout=10,
    )

    assert response.status_code == 200, response.text
    assert issuer.call(response.json()["access_token"]).status_code == 200


def test_a_user_parameter_cannot_turn_a_client_token_into_a_user_token(issuer):
    response = issuer.token_response(
        grant_type="client_credentials", user="alice", username="alice"
    )

    assert response.status_code == 200, response.text
    claims = issuer.verify(response.json()["access_token"])
    assert claims["sub"] == issuer.client_id
    assert "preferred_username" not in claims
