"""OpenID Connect on the internal issuer, checked with third-party libraries.

Authlib drives the client side of the authorization-code flow (PKCE, nonce) and
joserfc verifies the ID token against the JWKS fetched over HTTP, as a relying
party would; the browser's part (login, consent) is the `browser` session.
"""

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.jwk import KeySet

from applications.services import update_application
from authservers.signing import ensure_signing_keys
from tests.issuer.conftest import REDIRECT_URI, hidden_inputs


def discovery(issuer) -> dict:
    response = requests.get(f"{issuer.url}/.well-known/openid-configuration", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def client_session(issuer, **kwargs) -> OAuth2Session:
    options = {
        "client_id": issuer.client_id,
        "client_secret": issuer.secret,
        "scope": "openid profile email pets:read",
        "redirect_uri": REDIRECT_URI,
        "code_challenge_method": "S256",
    }
    return OAuth2Session(**(options | kwargs))


def sign_in_and_consent(browser, url: str) -> str:
    """The user's part: the consent page (alice is signed in), approved; the callback URL."""
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    assert "<title>Authorize Petstore app · Gatekeep</title>" in page.text
    approved = browser.post(
        page.url,
        data=hidden_inputs(page.text) | {"allow": "Authorize"},
        allow_redirects=False,
        timeout=10,
    )
    assert approved.status_code == 302, approved.text
    return approved.headers["Location"]


def code_flow(issuer, browser, **session_kwargs) -> tuple[dict, str]:
    """An authorization-code + PKCE + nonce flow through Authlib; the token response and nonce."""
    metadata = discovery(issuer)
    client = client_session(issuer, **session_kwargs)
    verifier = generate_token(48)
    nonce = generate_token(20)
    url, _ = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    callback = sign_in_and_consent(browser, url)
    token = client.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    client.close()
    return token, nonce


def verify_id_token(issuer, id_token: str, access_token: str, nonce: str) -> dict:
    """What a relying party checks (OpenID Connect Core §3.1.3.7), with joserfc."""
    metadata = discovery(issuer)
    keys = KeySet.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
    token = jwt.decode(id_token, keys, algorithms=metadata["id_token_signing_alg_values_supported"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": issuer.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        auth_time={"essential": True},
        nonce={"essential": True, "value": nonce},
    ).validate(token.claims)
    assert token.header["kid"] in {key["kid"] for key in keys.as_dict()["keys"]}
    assert token.header["typ"] == "JWT"
    assert token.claims["at_hash"] == create_half_hash(access_token, token.header["alg"]).decode()
    return token.claims


def test_discovery_and_rfc8414_metadata_say_what_is_true(issuer):
    ensure_signing_keys(issuer.server)

    document = discovery(issuer)
    rfc8414 = requests.get(f"{issuer.url}/.well-known/oauth-authorization-server", timeout=10)

    assert rfc8414.status_code == 200
    assert rfc8414.json() == document
    assert "openid" in document["scopes_supported"]
    assert document["userinfo_endpoint"] == f"{issuer.url}/oauth2/userinfo"
    assert document["introspection_endpoint"] == f"{issuer.url}/oauth2/introspect"
    assert document["revocation_endpoint"] == f"{issuer.url}/oauth2/revoke"
    assert document["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]
    assert document["introspection_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert "none" in document["revocation_endpoint_auth_methods_supported"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]
    assert document["subject_types_supported"] == ["public"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"sub", "auth_time", "nonce", "at_hash", "preferred_username", "email"} <= set(
        document["claims_supported"]
    )
    assert set(document["prompt_values_supported"]) == {"none", "login", "consent"}


def test_the_code_flow_with_openid_yields_a_verifiable_id_token(issuer, browser):
    issuer.user.first_name, issuer.user.last_name = "Alice", "Liddell"
    issuer.user.save()
    before = int(time.time())

    token, nonce = code_flow(issuer, browser)

    claims = verify_id_token(issuer, token["id_token"], token["access_token"], nonce)
    assert claims["sub"] == str(issuer.user.pk)
    assert claims["iss"] == issuer.url
    assert claims["preferred_username"] == "alice"
    assert claims["email"] == "alice@example.com"
    assert claims["name"] == "Alice Liddell"
    # auth_time is when the browser session signed in (the `browser` fixture, just now).
    assert before - 60 <= claims["auth_time"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == issuer.server.token_lifetime_seconds
    # The access token still works at the gateway.
    assert issuer.call(token["access_token"]).status_code == 200


def test_an_es256_issuer_signs_its_id_tokens_with_es256(issuer, browser):
    ensure_signing_keys(issuer.server, "ES256")

    token, nonce = code_flow(issuer, browser)

    assert discovery(issuer)["id_token_signing_alg_values_supported"] == ["ES256"]
    verify_id_token(issuer, token["id_token"], token["access_token"], nonce)


def test_without_openid_no_id_token_is_issued(issuer, browser):
    token, _ = code_flow(issuer, browser, scope="pets:read")

    assert "id_token" not in token


def test_userinfo_answers_get_and_post_with_the_access_token(issuer, browser):
    token, _ = code_flow(issuer, browser)
    endpoint = discovery(issuer)["userinfo_endpoint"]
    bearer = {"Authorization": f"Bearer {token['access_token']}"}

    got = requests.get(endpoint, headers=bearer, timeout=10)
    posted = requests.post(endpoint, headers=bearer, timeout=10)

    expected = {
        "sub": str(issuer.user.pk),
        "preferred_username": "alice",
        "email": "alice@example.com",
    }
    assert got.status_code == 200, got.text
    assert got.json() == expected
    assert got.headers["Content-Type"] == "application/json"
    assert posted.json() == expected
    anonymous = requests.get(endpoint, timeout=10)
    assert anonymous.status_code == 401
    # A token without `openid` (client credentials) is not for userinfo.
    machine = issuer.token(scope="pets:read")["access_token"]
    refused = requests.get(endpoint, headers={"Authorization": f"Bearer {machine}"}, timeout=10)
    assert refused.status_code in (401, 403)


def test_a_public_client_uses_pkce_without_a_secret(issuer, browser):
    update_application(
        issuer.application,
        client_type="public",
        grant_types=["authorization_code", "refresh_token"],
    )
    metadata = discovery(issuer)
    session = client_session(issuer, client_secret=None, token_endpoint_auth_method="none")
    verifier, nonce = generate_token(48), generate_token(20)
    url, _ = session.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )

    token = session.fetch_token(
        metadata["token_endpoint"],
        authorization_response=sign_in_and_consent(browser, url),
        code_verifier=verifier,
    )
    session.close()

    verify_id_token(issuer, token["id_token"], token["access_token"], nonce)


# --- prompt and max_age -----------------------------------------------------------------


def authorize_url(issuer, **params) -> str:
    query = {
        "response_type": "code",
        "client_id": issuer.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid pets:read",
        "state": "st-1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    } | params
    return f"{issuer.url}/oauth2/authorize?{urlencode(query)}"


def callback_params(response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI), location
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def test_prompt_none_without_a_session_is_login_required(issuer):
    response = requests.get(authorize_url(issuer, prompt="none"), allow_redirects=False, timeout=10)

    params = callback_params(response)
    assert params["error"] == "login_required"
    assert params["state"] == "st-1"


def test_prompt_none_before_consent_is_consent_required_then_silent_after(issuer, browser):
    first = browser.get(authorize_url(issuer, prompt="none"), allow_redirects=False, timeout=10)
    assert callback_params(first)["error"] == "consent_required"

    sign_in_and_consent(browser, authorize_url(issuer))  # consents; its token is issued below
    code_flow(issuer, browser, scope="openid pets:read")

    silent = browser.get(authorize_url(issuer, prompt="none"), allow_redirects=False, timeout=10)
    params = callback_params(silent)
    assert "code" in params, params
    assert params["state"] == "st-1"


def test_prompt_login_makes_the_user_sign_in_again(issuer, browser):
    response = browser.get(authorize_url(issuer, prompt="login"), allow_redirects=False, timeout=10)

    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/oauth2/login?next=")
    assert "prompt" not in parse_qs(urlsplit(location).query)["next"][0]
    # The old session is gone: the consent page now needs a sign-in.
    again = browser.get(authorize_url(issuer), allow_redirects=False, timeout=10)
    assert again.headers["Location"].startswith("/oauth2/login")


def test_prompt_consent_shows_the_consent_page(issuer, browser):
    page = browser.get(authorize_url(issuer, prompt="consent"), allow_redirects=False, timeout=10)

    assert page.status_code == 200
    assert 'name="allow"' in page.text


def test_max_age_reauthenticates_an_older_session(issuer, browser):
    fresh = browser.get(authorize_url(issuer, max_age="3600"), allow_redirects=False, timeout=10)
    assert fresh.status_code == 200  # signed in moments ago: the consent page

    time.sleep(1.1)
    stale = browser.get(authorize_url(issuer, max_age="0"), allow_redirects=False, timeout=10)

    assert stale.status_code == 302
    assert stale.headers["Location"].startswith("/oauth2/login?next=")
    silent = browser.get(
        authorize_url(issuer, prompt="none", max_age="0"), allow_redirects=False, timeout=10
    )
    assert callback_params(silent)["error"] == "login_required"


def test_a_refresh_keeps_issuing_verifiable_id_tokens(issuer, browser):
    token, _ = code_flow(issuer, browser)

    refreshed = issuer.token("refresh_token", refresh_token=token["refresh_token"])

    keys = KeySet.import_key_set(issuer.jwks())
    claims = jwt.decode(refreshed["id_token"], keys).claims
    assert claims["sub"] == str(issuer.user.pk)
    assert claims["aud"] == issuer.client_id
    assert "nonce" not in claims
    assert claims["at_hash"] == create_half_hash(refreshed["access_token"], "RS256").decode()


def test_openid_is_refused_for_client_credentials(issuer):
    response = issuer.token_response(grant_type="client_credentials", scope="openid pets:read")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_a_challenge_without_a_method_is_plain_and_refused(issuer):
    url = authorize_url(issuer)
    url = url.replace("&code_challenge_method=S256", "")

    params = callback_params(requests.get(url, allow_redirects=False, timeout=10))

    assert params["error"] == "invalid_request"


def test_max_age_for_a_signed_out_user_signs_in_without_looping(issuer):
    response = requests.get(authorize_url(issuer, max_age="0"), allow_redirects=False, timeout=10)

    assert response.status_code == 302
    next_url = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    assert "max_age" not in next_url
    assert next_url.startswith("/oauth2/authorize?")
