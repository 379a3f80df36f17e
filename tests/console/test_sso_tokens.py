"""Single sign-on refuses ID tokens it must not believe: signed by a key the provider does
not publish, for another client, from another issuer, expired, or without our nonce; and a
discovery document naming another issuer. Each refusal signs nobody in and is audited.

These run the whole redirect dance with `requests` (the browser tests are in test_sso.py).
"""

import re
import time

import pytest
import requests

from accounts.models import SsoIdentity
from console.sso import _cached_client
from core.models import AuditEvent
from tests.console.browser import ConsoleServer
from tests.oidc_provider import OidcProvider, Person
from tests.tokens import new_rsa_key


@pytest.fixture
def site(transactional_db):
    server = ConsoleServer()
    yield server
    server.stop()


@pytest.fixture
def provider(site, settings):
    provider = OidcProvider(redirect_uri=f"{site.url}/console/sso/callback/")
    # Plain-http loopback: let `requests` send the session cookie back (Chromium does anyway).
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.GATEWAY_CONSOLE_OIDC_ISSUER = provider.issuer
    settings.GATEWAY_CONSOLE_OIDC_CLIENT_ID = provider.client_id
    settings.GATEWAY_CONSOLE_OIDC_CLIENT_SECRET = provider.client_secret
    settings.GATEWAY_CONSOLE_OIDC_ROLE_MAP = {"platform-admins": "administrator"}
    provider.add(Person("u-100", "carol", "pw-carol", ["platform-admins"]))
    _cached_client.cache_clear()
    yield provider
    provider.stop()
    _cached_client.cache_clear()


def _sign_in(site) -> tuple[requests.Session, requests.Response]:
    """The browser's journey: console → provider's form → submit → console callback."""
    session = requests.Session()
    form_page = session.get(f"{site.url}/console/sso/", timeout=10)
    assert form_page.status_code == 200, form_page.text[:300]
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form_page.text))
    fields = {name: value.replace("&amp;", "&") for name, value in fields.items()}
    provider_url = form_page.url.split("?")[0]
    answer = session.post(
        provider_url, data={**fields, "login": "carol", "secret": "pw-carol"}, timeout=10
    )
    return session, answer


def _signed_in(session: requests.Session, site) -> bool:
    response = session.get(f"{site.url}/console/", timeout=10, allow_redirects=False)
    return response.status_code == 200


def test_a_good_id_token_signs_in(site, provider):
    session, answer = _sign_in(site)
    assert answer.url == f"{site.url}/console/"
    assert _signed_in(session, site) is True


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: setattr(p, "signing_key", new_rsa_key("idp-1")), id="foreign-key"),
        pytest.param(lambda p: p.extra_claims.update(aud="another-client"), id="wrong-audience"),
        pytest.param(
            lambda p: p.extra_claims.update(iss="https://evil.example"), id="wrong-issuer"
        ),
        pytest.param(lambda p: p.extra_claims.update(exp=int(time.time()) - 600), id="expired"),
        pytest.param(lambda p: setattr(p, "drop_nonce", True), id="no-nonce"),
        pytest.param(lambda p: p.extra_claims.update(nonce="replayed"), id="wrong-nonce"),
    ],
)
def test_an_id_token_that_does_not_verify_signs_nobody_in(site, provider, tamper):
    tamper(provider)
    session, answer = _sign_in(site)
    assert "/console/login/" in answer.url
    assert "Single sign-on did not complete." in answer.text
    assert _signed_in(session, site) is False
    assert not SsoIdentity.objects.exists()
    failure = AuditEvent.objects.get(action="login-failed")
    assert failure.after["via"] == "console-sso"
    assert not AuditEvent.objects.filter(action="login").exists()


def test_a_discovery_document_naming_another_issuer_is_refused(site, provider, settings):
    settings.GATEWAY_CONSOLE_OIDC_ISSUER = "https://login.example.com"
    settings.GATEWAY_CONSOLE_OIDC_DISCOVERY_URL = f"{provider.url}/.well-known/openid-configuration"
    session = requests.Session()
    answer = session.get(f"{site.url}/console/sso/", timeout=10)
    assert "/console/login/" in answer.url
    assert "cannot be reached" in answer.text
    assert provider.token_requests == 0
    assert AuditEvent.objects.get(action="login-failed").after["reason"] == ("provider_unavailable")


def test_a_code_is_good_for_one_sign_in_only(site, provider):
    # Replaying the callback URL (code + state) after it was used signs nobody in again.
    session = requests.Session()
    form_page = session.get(f"{site.url}/console/sso/", timeout=10)
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form_page.text))
    fields = {name: value.replace("&amp;", "&") for name, value in fields.items()}
    redirect = session.post(
        form_page.url.split("?")[0],
        data={**fields, "login": "carol", "secret": "pw-carol"},
        timeout=10,
        allow_redirects=False,
    )
    callback = redirect.headers["Location"]
    assert session.get(callback, timeout=10).url == f"{site.url}/console/"
    thief = requests.Session()
    replay = thief.get(callback, timeout=10)
    assert "/console/login/" in replay.url
    assert _signed_in(thief, site) is False
