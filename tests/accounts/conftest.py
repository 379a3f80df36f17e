"""Accounts in process: roles and their groups, and the sign-in surfaces (console, admin,
OAuth2 login page, password grant) with their lockouts.

Ada is staff (console, admin), Alice an end user of the issuer. Passwords and client
secrets are hashed with MD5 here so that dozens of failed attempts stay fast; the timing
test brings its own, slower hasher.
"""

import base64
from dataclasses import dataclass
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.db.models import F
from django.test import Client

from applications.models import Application
from applications.services import create_application
from authservers.models import AuthorizationServer

ADA_PASSWORD = "pw-ada-1"
ALICE_PASSWORD = "pw-alice-1"
TOKEN_URL = "/oauth2/token"

# Each sign-in page: its URL and the user who may sign in there.
LOGIN_PAGES = {
    "console": ("/console/login/", "ada", ADA_PASSWORD),
    "admin": ("/admin/login/", "ada", ADA_PASSWORD),
    "oauth-login": ("/oauth2/login", "alice", ALICE_PASSWORD),
}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ada(db):
    return get_user_model().objects.create_user(
        "ada", "ada@example.com", ADA_PASSWORD, is_staff=True, is_superuser=True
    )


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", "alice@example.com", ALICE_PASSWORD)


@pytest.fixture
def users(ada, alice):
    return {"ada": ada, "alice": alice}


def sign_in(page: str, password: str, address: str = "203.0.113.7", **extra):
    """POST a sign-in form from `address`; returns the response and the client."""
    url, username, _ = LOGIN_PAGES[page]
    client = Client(REMOTE_ADDR=address)
    response = client.post(url, {"username": username, "password": password}, **extra)
    return response, client


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def end_cool_off(settings) -> None:
    """Move every recorded failure back past the cool-off, as if the time had passed."""
    past = timedelta(seconds=settings.GATEWAY_LOGIN_LOCKOUT_SECONDS + 1)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - past)


@dataclass
class TokenEndpoint:
    """The internal issuer's /oauth2/token, called in process."""

    application: Application
    secret: str
    user: object

    @property
    def client_id(self) -> str:
        return self.application.client_id

    def post(self, auth=None, address: str = "203.0.113.7", **data):
        client_id, secret = auth or (self.client_id, self.secret)
        credentials = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return Client(REMOTE_ADDR=address).post(
            TOKEN_URL, data, HTTP_AUTHORIZATION=f"Basic {credentials}"
        )

    def password_grant(self, password: str = ALICE_PASSWORD, **kwargs):
        return self.post(grant_type="password", username="alice", password=password, **kwargs)


@pytest.fixture
def issuer(alice) -> TokenEndpoint:
    AuthorizationServer.objects.create(
        name="Gatekeep",
        kind="internal",
        issuer="http://testserver",
        required_typ="at+jwt",
        default_audience="petstore",
        token_lifetime_seconds=300,
        allowed_algorithms=["RS256", "ES256"],
    )
    application, secret = create_application(name="Petstore app")
    return TokenEndpoint(application, secret, alice)


def oauth_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    return body
