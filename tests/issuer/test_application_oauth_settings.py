"""The internal issuer enforces each application's OAuth2 settings (issue 20): its grant
types, its redirect URIs (exact match), PKCE for public clients and its allowed scopes;
and an application configured only through the REST API completes the code flow."""

from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from rest_framework.authtoken.models import Token

from accounts.roles import Role
from applications.models import Application
from applications.services import create_application, update_application
from tests.issuer.conftest import (
    REDIRECT_URI,
    authorize,
    hidden_inputs,
    pkce_pair,
    redirect_params,
)
from tests.personas import staff_member

SPA_REDIRECT_URI = "http://localhost:9/spa/callback"


def _error(response: requests.Response) -> str:
    assert response.status_code in (400, 401), response.text
    return response.json()["error"]


def test_a_grant_the_application_does_not_allow_is_unauthorized_client(issuer):
    update_application(issuer.application, grant_types=["authorization_code"])

    assert _error(issuer.token_response(grant_type="client_credentials")) == "unauthorized_client"
    password = issuer.token_response(grant_type="password", username="alice", password="x")
    assert _error(password) == "unauthorized_client"


def test_the_allowed_grants_still_work(issuer):
    update_application(issuer.application, grant_types=["client_credentials"])

    assert issuer.token()["access_token"]
    refused = issuer.token_response(grant_type="password", username="alice", password="x")
    assert _error(refused) == "unauthorized_client"


def test_the_code_flow_is_refused_when_the_application_does_not_allow_it(issuer, browser):
    update_application(issuer.application, grant_types=["client_credentials"])
    _, challenge = pkce_pair()

    params = redirect_params(
        authorize(issuer, browser, code_challenge=challenge, code_challenge_method="S256")
    )

    assert params["error"] == "unauthorized_client"
    assert "code" not in params


def test_a_redirect_uri_must_match_exactly(issuer, browser):
    _, challenge = pkce_pair()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}

    for near_miss in (
        "http://127.0.0.1:9/callback/",  # a trailing slash
        "http://127.0.0.1:10/callback",  # another loopback port (DOT alone would accept it)
        "http://127.0.0.1:9/callback?x=1",  # an added query
        "http://localhost:9/callback",  # another name for the same host
        "https://attacker.example/callback",
    ):
        response = authorize(issuer, browser, redirect_uri=near_miss, **pkce)
        assert response.status_code == 400, (near_miss, response.status_code)
        assert "Location" not in response.headers
        assert "Mismatching redirect URI" in response.text

    assert "code" in redirect_params(authorize(issuer, browser, **pkce))


def test_a_public_client_must_use_pkce_and_authenticates_without_a_secret(issuer, browser):
    application, secret = create_application(
        name="Single-page app",
        apis=[issuer.api],
        client_type="public",
        redirect_uris=[REDIRECT_URI],
    )
    assert secret is None
    assert application.grant_types == ["authorization_code", "refresh_token"]

    without = redirect_params(authorize(issuer, browser, client_id=application.client_id))
    assert without["error"] == "invalid_request"
    assert without["error_description"] == "Code challenge required."

    verifier, challenge = pkce_pair()
    params = redirect_params(
        authorize(
            issuer,
            browser,
            client_id=application.client_id,
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )
    response = requests.post(
        f"{issuer.url}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": application.client_id,
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert issuer.call(response.json()["access_token"]).status_code == 200
    # client_credentials never works for it: it has no secret to prove.
    refused = requests.post(
        f"{issuer.url}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": application.client_id},
        timeout=10,
    )
    assert refused.status_code in (400, 401)
    assert refused.json()["error"] in {"invalid_client", "unauthorized_client"}


def test_scopes_outside_the_allowed_ones_are_invalid_scope(issuer):
    update_application(issuer.application, allowed_scopes=["pets:read"])

    assert _error(issuer.token_response(grant_type="client_credentials", scope="pets:write")) == (
        "invalid_scope"
    )
    assert issuer.token(scope="pets:read")["scope"] == "pets:read"
    # Asking for none gives every scope its APIs define, within the allowed ones.
    default = issuer.token()
    assert issuer.verify(default["access_token"])["scope"] == "pets:read"


def test_without_allowed_scopes_every_scope_of_its_apis_is_available(issuer):
    claims = issuer.verify(issuer.token()["access_token"])
    assert set(claims["scope"].split()) == {"pets:read", "pets:write"}


def test_the_code_flow_for_an_application_configured_only_through_rest(issuer, browser):
    """Issue 20's report, end to end: a public single-page app registered with the REST
    admin API (over HTTP, on the admin listener) signs alice in with PKCE; its token
    verifies against the published keys and calls the API through the gateway."""
    admin = staff_member("ada", Role.ADMINISTRATOR)
    rest = requests.Session()
    rest.headers["Authorization"] = f"Token {Token.objects.create(user=admin).key}"
    created = rest.post(
        f"{issuer.gateway.admin_url}/api/v1/applications/",
        json={
            "name": "Pet shop SPA",
            "apis": [issuer.api.pk],
            "client_type": "public",
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [SPA_REDIRECT_URI],
            "allowed_scopes": ["pets:read"],
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["client_secret"] is None
    assert body["redirect_uris"] == [SPA_REDIRECT_URI]
    client_id = body["client_id"]
    rest.close()

    # A scope it is not allowed is refused at the authorization endpoint.
    _, challenge = pkce_pair()
    refused = authorize(
        issuer,
        browser,
        client_id=client_id,
        redirect_uri=SPA_REDIRECT_URI,
        scope="pets:read pets:write",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    assert _callback(refused)["error"] == "invalid_scope"

    # The client's side with Authlib (PKCE S256, no client authentication), the user's
    # side (consent) with the signed-in browser.
    session = OAuth2Session(
        client_id=client_id,
        redirect_uri=SPA_REDIRECT_URI,
        scope="pets:read",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    )
    verifier = generate_token(48)
    url, state = session.create_authorization_url(
        f"{issuer.url}/oauth2/authorize", code_verifier=verifier
    )
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    approved = browser.post(
        page.url, data=hidden_inputs(page.text) | {"allow": "Authorize"}, allow_redirects=False
    )
    assert _callback(approved)["state"] == state
    tokens = session.fetch_token(
        f"{issuer.url}/oauth2/token",
        authorization_response=approved.headers["Location"],
        code_verifier=verifier,
    )
    session.close()

    claims = issuer.verify(tokens["access_token"])
    assert claims["client_id"] == client_id
    assert claims["sub"] == str(issuer.user.pk)
    assert claims["scope"] == "pets:read"
    response = issuer.call(tokens["access_token"])
    assert response.status_code == 200, response.text
    assert issuer.upstream.last["headers"]["x-gateway-application"] == "Pet shop SPA"
    # The user token does not carry pets:write, so the gateway refuses that route.
    assert issuer.call(tokens["access_token"], method="POST").status_code == 403
    # A public client refreshes with its client id alone.
    refreshed = requests.post(
        f"{issuer.url}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": client_id,
            "refresh_token": tokens["refresh_token"],
        },
        timeout=10,
    )
    assert refreshed.status_code == 200, refreshed.text
    assert issuer.call(refreshed.json()["access_token"]).status_code == 200
    assert Application.objects.get(name="Pet shop SPA").oauth_client.client_type == "public"


def _callback(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(SPA_REDIRECT_URI + "?"), location
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
