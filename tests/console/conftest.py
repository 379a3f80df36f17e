"""Personas and objects for the console: Ada is an administrator, Bob is signed in but not
staff, and `console_as(role)` is a staff member with any other role (or none)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.roles import Role
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from applications.services import create_application
from authservers.models import AuthorizationServer
from authservers.services import refresh_jwks
from tests.personas import staff_member


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Client secrets and passwords are hashed on every fixture; PBKDF2 would dominate."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ada(db):
    return staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")


@pytest.fixture
def console(ada) -> Client:
    """A browser session of a staff user."""
    client = Client()
    client.force_login(ada)
    return client


@pytest.fixture
def console_as(db):
    """console_as(Role.OPERATOR): a browser session of a new staff member with that role."""

    def make(role: Role | None) -> Client:
        client = Client()
        client.force_login(staff_member(f"staff-{role or 'none'}", role))
        return client

    return make


@pytest.fixture
def member(db) -> Client:
    """A browser session of a signed-in user who is not staff."""
    bob = get_user_model().objects.create_user("bob", "bob@example.com", "pw-bob-1")
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def anonymous(db) -> Client:
    return Client()


@pytest.fixture
def server(db, idp) -> AuthorizationServer:
    """An external server for the loopback `idp`, with its keys fetched."""
    server = AuthorizationServer.objects.create(name="Dev IdP", kind="external", issuer=idp.issuer)
    assert refresh_jwks(server).ok
    return server


@pytest.fixture
def api(db) -> Api:
    """An inactive API without routes or policy."""
    return Api.objects.create(
        name="Petstore", version="v1", base_path="/petstore/v1", upstream_url="http://127.0.0.1:9/"
    )


@pytest.fixture
def ready_api(api, server) -> Api:
    """The API with a route and a complete policy trusting `server`; still inactive."""
    Route.objects.create(api=api, method="GET", path="/pets", required_scopes=["pets:read"])
    policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["petstore"])
    policy.authorization_servers.add(server)
    return api


@pytest.fixture
def application(db, api):
    application, _ = create_application(
        name="Petstore client", identifying_claims={"client_id": "petstore-client"}, apis=[api]
    )
    return application


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright (tests/console/browser.py), one per module."""
    from playwright.sync_api import sync_playwright

    from tests.console.browser import CHROMIUM, CHROMIUM_ARGS

    # Playwright's sync API keeps an asyncio loop running in this thread, which makes
    # Django refuse ORM calls from the test body; the servers run in their own threads.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
            )
            yield browser
            browser.close()
