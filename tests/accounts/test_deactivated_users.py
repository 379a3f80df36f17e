"""Issue 12, finding 5: a deactivated user's grants stop working.

A refresh token used to keep minting tokens for 14 days (rolling) after its user was
deactivated. Now deactivating a user revokes their refresh tokens, access tokens and
authorization codes, and the token endpoint refuses a grant of an inactive user even
when the deactivation bypassed save() (QuerySet.update()).
"""

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from oauth2_provider.models import AccessToken, Grant, RefreshToken

from apis.models import Api, Route
from applications.services import create_application
from core.models import AuditEvent
from tests.accounts.conftest import oauth_error

REDIRECT_URI = "http://127.0.0.1:9/callback"


def deactivate(user) -> None:
    user.is_active = False
    user.save()


@pytest.fixture
def refresh_token(issuer) -> str:
    response = issuer.password_grant()
    assert response.status_code == 200, response.content
    return response.json()["refresh_token"]


def refresh(issuer, token: str):
    return issuer.post(grant_type="refresh_token", refresh_token=token)


def test_an_active_users_refresh_token_still_rotates(issuer, refresh_token):
    response = refresh(issuer, refresh_token)

    assert response.status_code == 200, response.content
    assert refresh(issuer, response.json()["refresh_token"]).status_code == 200


def test_a_deactivated_users_refresh_token_is_invalid_grant(issuer, refresh_token):
    deactivate(issuer.user)

    oauth_error(refresh(issuer, refresh_token), 400, "invalid_grant")


def test_deactivation_through_a_bulk_update_is_refused_at_the_token_endpoint(issuer, refresh_token):
    get_user_model().objects.filter(pk=issuer.user.pk).update(is_active=False)

    body = oauth_error(refresh(issuer, refresh_token), 400, "invalid_grant")
    assert body["error_description"] == "The user of this refresh token is no longer active."


def test_deactivating_a_user_revokes_their_tokens_and_leaves_others_alone(issuer, refresh_token):
    bob = get_user_model().objects.create_user("bob", password="pw-bob-1")
    bobs = issuer.post(grant_type="password", username="bob", password="pw-bob-1")
    assert bobs.status_code == 200

    deactivate(issuer.user)

    assert not AccessToken.objects.filter(user=issuer.user).exists()
    assert not RefreshToken.objects.filter(user=issuer.user, revoked__isnull=True).exists()
    assert AccessToken.objects.filter(user=bob).count() == 1
    assert RefreshToken.objects.filter(user=bob, revoked__isnull=True).count() == 1
    assert refresh(issuer, bobs.json()["refresh_token"]).status_code == 200
    (event,) = AuditEvent.objects.filter(action="revoke-tokens")
    assert (event.object_type, event.object_repr) == ("user", "alice")
    assert event.after == {"refresh_tokens": 1, "access_tokens": 1, "authorization_codes": 0}


def test_reactivating_a_user_does_not_revive_old_tokens(issuer, refresh_token):
    deactivate(issuer.user)
    issuer.user.is_active = True
    issuer.user.save()

    oauth_error(refresh(issuer, refresh_token), 400, "invalid_grant")
    assert issuer.password_grant().status_code == 200  # signing in again works


class _HiddenInputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""


def hidden_inputs(html: str) -> dict[str, str]:
    parser = _HiddenInputs()
    parser.feed(html)
    return parser.fields


def _authorization_code(issuer) -> tuple[object, str, str, str]:
    api = Api.objects.create(name="Petstore", base_path="/petstore", upstream_url="http://x")
    Route.objects.create(api=api, method="GET", path="/pets", required_scopes=["pets:read"])
    application, secret = create_application(name="Web app", apis=[api], redirect_uris=REDIRECT_URI)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    browser = Client()
    browser.force_login(issuer.user)
    query = {
        "response_type": "code",
        "scope": "pets:read",
        "client_id": application.client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    page = browser.get("/oauth2/authorize", query)
    assert page.status_code == 200, page.content
    form = hidden_inputs(page.text)
    approved = browser.post("/oauth2/authorize", {**form, "allow": "Authorize"})
    assert approved.status_code == 302, approved.content
    code = parse_qs(urlsplit(approved["Location"]).query)["code"][0]
    return application, secret, code, verifier


def test_a_deactivated_users_authorization_code_is_refused(issuer):
    application, secret, code, verifier = _authorization_code(issuer)
    assert Grant.objects.filter(user=issuer.user).count() == 1

    get_user_model().objects.filter(pk=issuer.user.pk).update(is_active=False)
    response = issuer.post(
        auth=(application.client_id, secret),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )

    body = oauth_error(response, 400, "invalid_grant")
    assert body["error_description"] == "The user who authorized this code is no longer active."


def test_deactivation_deletes_pending_authorization_codes(issuer):
    _authorization_code(issuer)

    deactivate(issuer.user)

    assert not Grant.objects.filter(user=issuer.user).exists()
