"""A person signs in and consents in real Chromium; the relying party (Authlib) gets an
authorization code, tokens and an ID token that verify, and a second visit with
prompt=none comes back at once without any page."""

import contextlib

import pytest
from authlib.common.security import generate_token
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from tests.console.browser import CHROMIUM, CHROMIUM_ARGS
from tests.issuer.conftest import ALICE_PASSWORD, REDIRECT_URI
from tests.issuer.test_openid import client_session, discovery, verify_id_token


@pytest.fixture
def chromium(settings):
    # The gateway runs on plain-http loopback: let the browser send its cookies back.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API runs an asyncio loop in this thread (see tests/console).
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            # The test clients' redirect URI is on port 9, which Chromium calls unsafe.
            args = [*CHROMIUM_ARGS, "--explicitly-allowed-ports=9"]
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=args, timeout=60_000
            )
            yield browser
            browser.close()


def to_callback(page, navigate, state: str) -> str:
    """Run `navigate` and return the URL the browser was sent to at the client's redirect
    URI for this `state` (nothing listens there: the request is all the client needs).
    Chromium may reload an earlier failed callback page meanwhile (its code already
    used): only this authorization request's answer counts."""
    at_client = page.expect_request(
        lambda request: request.url.startswith(REDIRECT_URI) and f"state={state}" in request.url
    )
    # The redirect target refuses the connection: an error the test expects.
    with at_client as caught, contextlib.suppress(PlaywrightError):
        navigate()
    return caught.value.url


def test_sign_in_and_consent_in_chromium_then_prompt_none_is_silent(issuer, chromium):
    metadata = discovery(issuer)
    client = client_session(issuer)
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    page = chromium.new_page()

    page.goto(url)
    assert page.title() == "Sign in · Gatekeep"
    page.fill("input[name=username]", issuer.user.username)
    page.fill("input[name=password]", ALICE_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.title() == "Authorize Petstore app · Gatekeep"
    callback = to_callback(page, lambda: page.click("button[name=allow]"), state)

    assert f"state={state}" in callback
    token = client.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    claims = verify_id_token(issuer, token["id_token"], token["access_token"], nonce)
    assert claims["sub"] == str(issuer.user.pk)
    assert issuer.call(token["access_token"]).status_code == 200

    # Signed in and consented: prompt=none answers with a code and shows nothing.
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce, prompt="none"
    )
    callback = to_callback(page, lambda: page.goto(url), state)
    assert "code=" in callback and "error=" not in callback
    token = client.fetch_token(
        metadata["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    assert verify_id_token(issuer, token["id_token"], token["access_token"], nonce)["sub"] == (
        str(issuer.user.pk)
    )
    client.close()
