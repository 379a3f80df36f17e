"""Token introspection (RFC 7662), revocation (RFC 7009) and the endpoints' error answers."""

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from applications.services import create_application
from authservers.signing import revoke_signing_key
from tests.issuer.conftest import REDIRECT_URI, pkce_pair


def introspect(issuer, token: str, auth=None, **data) -> requests.Response:
    return requests.post(
        f"{issuer.url}/oauth2/introspect",
        data={"token": token} | data,
        auth=auth or (issuer.client_id, issuer.secret),
        timeout=10,
    )


def revoke(issuer, token: str, **data) -> requests.Response:
    return requests.post(
        f"{issuer.url}/oauth2/revoke",
        data={"token": token} | data,
        auth=(issuer.client_id, issuer.secret),
        timeout=10,
    )


def test_a_jwt_access_token_introspects_with_its_claims(issuer):
    body = issuer.password_token(scope="pets:read")
    claims = issuer.verify(body["access_token"])

    response = introspect(issuer, body["access_token"])

    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.json()
    assert answer["active"] is True
    for name in ("iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"):
        assert answer[name] == claims[name], name
    assert answer["username"] == "alice"
    assert answer["token_type"] == "Bearer"


def test_a_refresh_token_introspects_as_active(issuer):
    body = issuer.password_token(scope="pets:read")

    answer = introspect(issuer, body["refresh_token"], token_type_hint="refresh_token").json()

    assert answer["active"] is True
    assert answer["client_id"] == issuer.client_id
    assert answer["token_type"] == "refresh_token"
    assert answer["sub"] == str(issuer.user.pk)


def test_unknown_expired_and_forged_tokens_are_inactive(issuer):
    body = issuer.token(scope="pets:read")
    assert introspect(issuer, "not-a-token").json() == {"active": False}
    header, payload, signature = body["access_token"].split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    assert introspect(issuer, forged).json() == {"active": False}

    get_access_token_model().objects.update(expires=timezone.now() - timedelta(seconds=1))

    assert introspect(issuer, body["access_token"]).json() == {"active": False}


def test_a_token_of_a_revoked_signing_key_is_inactive(issuer):
    token = issuer.token(scope="pets:read")["access_token"]
    kid = requests.get(f"{issuer.url}/oauth2/jwks", timeout=10).json()["keys"][0]["kid"]

    revoke_signing_key(issuer.server, kid)

    assert introspect(issuer, token).json() == {"active": False}


def test_introspection_needs_an_authenticated_confidential_client(issuer):
    token = issuer.token(scope="pets:read")["access_token"]

    anonymous = requests.post(f"{issuer.url}/oauth2/introspect", data={"token": token}, timeout=10)
    wrong = introspect(issuer, token, auth=(issuer.client_id, "wrong"))

    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "invalid_client"
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Basic ")
    client = issuer.application.oauth_client
    client.client_type = "public"
    client.save()
    public = requests.post(
        f"{issuer.url}/oauth2/introspect",
        data={"token": token, "client_id": issuer.client_id},
        timeout=10,
    )
    assert public.status_code == 401


def test_revoking_an_access_token_makes_it_inactive(issuer):
    body = issuer.password_token(scope="pets:read")

    response = revoke(issuer, body["access_token"], token_type_hint="access_token")

    assert response.status_code == 200, response.text
    assert introspect(issuer, body["access_token"]).json() == {"active": False}
    # Its refresh token goes with it (RFC 7009 §2.1 allows it; DOT does it).
    refresh = issuer.token_response(grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refresh.status_code == 400


def test_revoking_a_refresh_token_stops_refresh(issuer):
    body = issuer.password_token(scope="pets:read")

    assert revoke(issuer, body["refresh_token"], token_type_hint="refresh_token").status_code == 200

    refresh = issuer.token_response(grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"
    answer = introspect(issuer, body["refresh_token"], token_type_hint="refresh_token").json()
    assert answer == {"active": False}


def test_revoking_an_unknown_token_is_200(issuer):
    assert revoke(issuer, "never-issued").status_code == 200


def test_a_client_cannot_revoke_another_clients_token(issuer):
    body = issuer.password_token(scope="pets:read")
    other, secret = create_application(name="Other app", apis=[issuer.api])

    response = requests.post(
        f"{issuer.url}/oauth2/revoke",
        data={"token": body["access_token"]},
        auth=(other.client_id, secret),
        timeout=10,
    )

    assert response.status_code == 200
    assert introspect(issuer, body["access_token"]).json()["active"] is True


# --- error answers ----------------------------------------------------------------------


def test_invalid_client_challenges_with_the_scheme_the_client_used(issuer):
    basic = issuer.token_response(auth=(issuer.client_id, "wrong"), grant_type="client_credentials")
    post = requests.post(
        f"{issuer.url}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": issuer.client_id,
            "client_secret": "wrong",
        },
        timeout=10,
    )

    assert basic.status_code == 401
    assert basic.json()["error"] == "invalid_client"
    assert basic.headers["WWW-Authenticate"].startswith("Basic ")
    assert post.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" not in post.headers


def test_get_on_the_token_endpoint_is_405_with_an_oauth_error(issuer):
    response = requests.get(f"{issuer.url}/oauth2/token", timeout=10)

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == "invalid_request"


def _authorize(issuer, **params) -> requests.Response:
    _, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": issuer.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "pets:read",
        "state": "st-9",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    } | params
    return requests.get(
        f"{issuer.url}/oauth2/authorize?{urlencode(query)}", allow_redirects=False, timeout=10
    )


def _redirect_error(response) -> dict:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def test_an_unknown_resource_is_refused_before_the_login_page(issuer):
    params = _redirect_error(_authorize(issuer, resource="https://elsewhere.example/api"))

    assert params["error"] == "invalid_target"
    assert params["state"] == "st-9"


def test_plain_pkce_is_refused_before_the_login_page(issuer):
    params = _redirect_error(
        _authorize(issuer, code_challenge="x" * 43, code_challenge_method="plain")
    )

    assert params["error"] == "invalid_request"
    assert params["state"] == "st-9"


def test_with_an_untrusted_redirect_uri_the_refusal_is_a_page(issuer):
    response = _authorize(
        issuer, redirect_uri="https://attacker.example/cb", code_challenge_method="plain"
    )

    assert response.status_code == 400
    assert "attacker.example" not in response.headers.get("Location", "")
    assert "<title>Authorization error · Gatekeep</title>" in response.text


def test_the_new_endpoints_are_relayed_by_the_data_plane_only(issuer):
    token = issuer.token(scope="pets:read")["access_token"]
    for path in (
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ):
        assert requests.get(f"{issuer.url}{path}", timeout=10).status_code == 200
    assert introspect(issuer, token).json()["active"] is True
    assert revoke(issuer, "unknown").status_code == 200
    assert requests.get(f"{issuer.url}/oauth2/userinfo", timeout=10).status_code == 401
    # The admin listener does not serve them.
    for path in ("/oauth2/introspect", "/oauth2/revoke", "/oauth2/userinfo"):
        assert requests.post(f"{issuer.gateway.admin_url}{path}", timeout=10).status_code == 404
