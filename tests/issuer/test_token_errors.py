"""Refusals are standard OAuth2 error JSON with the right status, and the gateway keeps serving."""

import time

import requests
from oauth2_provider.models import get_application_model

from applications.services import update_application
from tests.issuer.conftest import authorize, pkce_pair, redirect_params


def assert_oauth_error(response: requests.Response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    return body


def assert_gateway_still_serves(issuer) -> None:
    token = issuer.token(scope="pets:read")["access_token"]
    # A config change is live in every worker within GATEWAY_CONFIG_POLL_SECONDS.
    deadline = time.monotonic() + 3
    while (status := issuer.call(token).status_code) != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status == 200


def test_a_wrong_secret_is_invalid_client(issuer):
    # Change the last character (a fixed "x" equals it in one run of 62).
    wrong = issuer.secret[:-1] + ("y" if issuer.secret.endswith("x") else "x")
    response = issuer.token_response(
        auth=(issuer.client_id, wrong), grant_type="client_credentials"
    )

    assert_oauth_error(response, 401, "invalid_client")
    assert_gateway_still_serves(issuer)


def test_an_unknown_client_is_invalid_client(issuer):
    response = issuer.token_response(
        auth=("no-such-client", issuer.secret), grant_type="client_credentials"
    )

    assert_oauth_error(response, 401, "invalid_client")
    assert_gateway_still_serves(issuer)


def test_no_client_authentication_at_all_is_invalid_client(issuer):
    response = requests.post(
        f"{issuer.url}/oauth2/token", data={"grant_type": "client_credentials"}, timeout=10
    )

    assert_oauth_error(response, 401, "invalid_client")


def test_an_oauth_client_without_a_gateway_application_gets_no_token(issuer):
    orphan = get_application_model().objects.create(
        name="orphan",
        client_type="confidential",
        authorization_grant_type="client-credentials",
        client_secret="orphan-secret",
    )

    response = issuer.token_response(
        auth=(orphan.client_id, "orphan-secret"), grant_type="client_credentials"
    )

    assert_oauth_error(response, 401, "invalid_client")


def test_a_suspended_application_gets_no_token_and_its_tokens_stop_working(issuer):
    earlier = issuer.password_token(scope="pets:read")
    update_application(issuer.application, status="suspended")

    for response in (
        issuer.token_response(grant_type="client_credentials"),
        issuer.token_response(grant_type="refresh_token", refresh_token=earlier["refresh_token"]),
    ):
        body = assert_oauth_error(response, 400, "unauthorized_client")
        assert body["error_description"] == "The application is suspended."
    refused = issuer.call(earlier["access_token"])
    assert refused.status_code == 403
    assert refused.json()["code"] == "application_not_authorized"

    update_application(issuer.application, status="active")
    assert_gateway_still_serves(issuer)


def test_a_suspended_application_cannot_start_the_code_flow(issuer, browser):
    update_application(issuer.application, status="suspended")
    _, challenge = pkce_pair()

    params = redirect_params(
        authorize(issuer, browser, code_challenge=challenge, code_challenge_method="S256")
    )

    assert params["error"] == "unauthorized_client"
    assert params["error_description"] == "The application is suspended."


def test_grants_the_gateway_does_not_serve_are_unsupported_grant_type(issuer):
    for grant_type in (
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "implicit",
    ):
        response = issuer.token_response(grant_type=grant_type, device_code="x")
        assert_oauth_error(response, 400, "unsupported_grant_type")
    assert_gateway_still_serves(issuer)


def test_a_missing_grant_type_is_invalid_request(issuer):
    assert_oauth_error(issuer.token_response(), 400, "invalid_request")


def test_the_implicit_flow_is_refused_as_unauthorized_client(issuer, browser):
    params = redirect_params(authorize(issuer, browser, response_type="token"))

    assert params["error"] == "unauthorized_client"
    assert "access_token" not in params
    assert_gateway_still_serves(issuer)


def test_an_unregistered_redirect_uri_is_never_redirected_to(issuer, browser):
    _, challenge = pkce_pair()

    response = authorize(
        issuer,
        browser,
        redirect_uri="https://evil.example/cb",
        code_challenge=challenge,
        code_challenge_method="S256",
    )

    assert response.status_code == 400
    assert "evil.example" not in response.headers.get("Location", "")


def test_an_expired_or_forged_refresh_token_is_invalid_grant(issuer):
    response = issuer.token_response(grant_type="refresh_token", refresh_token="forged")

    assert_oauth_error(response, 400, "invalid_grant")


def test_without_an_internal_server_the_endpoint_says_so(issuer):
    issuer.server.kind = "external"
    issuer.server.save()

    response = issuer.token_response(grant_type="client_credentials")

    body = assert_oauth_error(response, 503, "temporarily_unavailable")
    assert body["error_description"] == "No internal authorization server is configured."
