"""Single sign-on in real Chromium against a real OpenID provider on loopback
(tests/oidc_provider.py): the provider's groups become console roles, a read-only
role sees no write control, refusals and sign-ins are audited, and a local
(break-glass) account can neither be taken over through the provider nor stops working.
"""

import pytest
import requests
from playwright.sync_api import expect

from accounts.models import SsoIdentity
from accounts.roles import Role, role_of
from apis.models import Api
from core.models import AuditEvent
from tests.console.browser import ConsoleServer, screenshot
from tests.oidc_provider import OidcProvider, Person
from tests.personas import staff_member

TIMEOUT_MS = 30_000


@pytest.fixture
def site(transactional_db):
    server = ConsoleServer()
    yield server
    server.stop()


@pytest.fixture
def provider(site, settings):
    provider = OidcProvider(redirect_uri=f"{site.url}/console/sso/callback/")
    settings.GATEWAY_CONSOLE_OIDC_ISSUER = provider.issuer
    settings.GATEWAY_CONSOLE_OIDC_CLIENT_ID = provider.client_id
    settings.GATEWAY_CONSOLE_OIDC_CLIENT_SECRET = provider.client_secret
    settings.GATEWAY_CONSOLE_OIDC_PROVIDER_NAME = "Example IdP"
    settings.GATEWAY_CONSOLE_OIDC_ROLE_MAP = {
        "platform-admins": "administrator",
        "platform-oncall": "operator",
        "auditors": "viewer",
    }
    provider.add(Person("u-100", "carol", "pw-carol", ["staff", "platform-admins"], "c@x.io"))
    provider.add(Person("u-200", "victor", "pw-victor", ["auditors"], name="Victor Viewer"))
    provider.add(Person("u-300", "mallory", "pw-mallory", ["marketing"]))
    # The IdP's "ada" is not the console's break-glass ada.
    provider.add(Person("u-400", "ada", "pw-idp-ada", ["platform-admins"]))
    yield provider
    provider.stop()


def _page(browser, site, width: int = 1280):
    context = browser.new_context(base_url=site.url, viewport={"width": width, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    return context.new_page()


def _sso(page, username: str, password: str, start: str = "/console/") -> None:
    page.goto(start)
    page.get_by_role("link", name="Sign in with Example IdP").click()
    expect(page).to_have_title("Example IdP sign-in")
    page.fill("#login", username)
    page.fill("#secret", password)
    page.get_by_role("button", name="Continue").click()


def test_an_admin_signs_in_with_the_identity_provider_and_gets_the_mapped_role(
    browser, site, provider
):
    page = _page(browser, site)
    page.goto("/console/")
    expect(page.get_by_role("link", name="Sign in with Example IdP")).to_be_visible()
    screenshot(page, "sso-01-login")
    _sso(page, "carol", "pw-carol", start="/console/audit/")

    # Back where the person was going, signed in with the role of platform-admins.
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    assert page.url == f"{site.url}/console/audit/"
    foot = page.locator(".sidebar-foot")
    expect(foot).to_contain_text("carol")
    expect(foot).to_contain_text("(administrator)")
    # The session's end is shown, 8 hours from now by default.
    expect(foot.locator(".session-end")).to_contain_text("Session ends")
    expect(foot.locator(".session-end")).to_contain_text("(in 7\xa0hours")
    screenshot(page, "sso-02-signed-in")

    identity = SsoIdentity.objects.select_related("user").get(subject="u-100")
    assert identity.issuer == provider.issuer
    assert identity.user.username == "carol"
    assert identity.user.email == "c@x.io"
    assert identity.user.has_usable_password() is False  # the provider is its only way in
    assert role_of(identity.user) == Role.ADMINISTRATOR
    sign_in = AuditEvent.objects.get(action="login", object_repr="carol")
    assert sign_in.after["via"] == "console-sso"
    assert sign_in.source == "console"
    assert sign_in.client_address == "127.0.0.1"
    assert provider.token_requests == 1

    # The audit page lists it.
    page.reload()
    expect(page.locator("table").first).to_contain_text("carol")


def test_a_viewer_from_the_provider_sees_no_write_controls(browser, site, provider):
    Api.objects.create(
        name="Petstore", version="v1", base_path="/petstore/v1", upstream_url="http://127.0.0.1:9/"
    )
    page = _page(browser, site)
    _sso(page, "victor", "pw-victor")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator(".sidebar-foot")).to_contain_text("(viewer)")
    expect(page.get_by_role("link", name="New API")).to_have_count(0)

    page.get_by_role("navigation", name="Console").get_by_role("link", name="APIs").click()
    expect(page.get_by_role("link", name="Petstore")).to_be_visible()
    expect(page.get_by_role("link", name="New API")).to_have_count(0)
    expect(page.get_by_role("link", name="Import OpenAPI")).to_have_count(0)
    page.get_by_role("link", name="Petstore").click()
    expect(page.get_by_role("heading", name="Petstore")).to_be_visible()
    for control in ("Edit", "Delete"):
        expect(page.locator(".actions").get_by_role("link", name=control)).to_have_count(0)
    expect(page.get_by_role("button", name="Activate")).to_have_count(0)
    expect(page.get_by_role("button", name="Save policy")).to_have_count(0)
    expect(page.get_by_role("button", name="Add route")).to_have_count(0)
    screenshot(page, "sso-03-viewer-api")

    # Typing the address of a write page is refused too.
    page.goto("/console/apis/new/")
    expect(page.get_by_text("Your role (viewer) does not allow you to create APIs")).to_be_visible()

    # Promoted at the provider: the next sign-in carries the new role.
    provider.people["victor"].groups = ["platform-oncall"]
    page.goto("/console/")
    page.get_by_role("button", name="Sign out").click()
    _sso(page, "victor", "pw-victor")
    expect(page.locator(".sidebar-foot")).to_contain_text("(operator)")
    user = SsoIdentity.objects.get(subject="u-200").user
    assert role_of(user) == Role.OPERATOR
    assert AuditEvent.objects.filter(action="set-role", object_id=str(user.pk)).count() == 2


def test_refusals_are_audited_and_the_break_glass_account_stays_local(browser, site, provider):
    ada = staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    page = _page(browser, site)

    # In no mapped group: refused, on the sign-in page, with the reason audited.
    _sso(page, "mallory", "pw-mallory")
    expect(page.locator(".messages")).to_contain_text("in no group that gives a console role")
    assert "/console/login/" in page.url
    refused = AuditEvent.objects.get(action="login-failed", object_repr="mallory")
    assert refused.after["reason"] == "no_role"
    assert refused.after["via"] == "console-sso"
    assert refused.source == "console"

    # The provider's "ada" cannot become the local administrator ada.
    _sso(page, "ada", "pw-idp-ada")
    expect(page.locator(".messages")).to_contain_text("already exists and is not linked")
    assert not SsoIdentity.objects.filter(subject="u-400").exists()
    assert AuditEvent.objects.get(action="login-failed", object_repr="ada").after["reason"] == (
        "username_taken"
    )

    # Cancelling at the provider is a refusal too.
    _sso_cancel = page.get_by_role("link", name="Sign in with Example IdP")
    _sso_cancel.click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".messages")).to_contain_text("Single sign-on did not complete")
    assert AuditEvent.objects.filter(action="login-failed", after__reason="access_denied").exists()

    # A forged callback (no state of ours in the session) signs nobody in.
    page.goto("/console/sso/callback/?code=stolen&state=forged")
    expect(page.locator(".messages")).to_contain_text("Single sign-on did not complete")
    page.goto("/console/")
    assert "/console/login/" in page.url

    # Break-glass: the local password still works, and still with its own account.
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pw-ada-1")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator(".sidebar-foot")).to_contain_text("ada")
    assert not SsoIdentity.objects.filter(user=ada).exists()


def test_single_sign_on_is_off_unless_configured(site, transactional_db):
    response = requests.get(f"{site.url}/console/login/", timeout=10)
    assert response.status_code == 200
    assert "Sign in with" not in response.text
    # The start page sends the browser back to the local sign-in.
    response = requests.get(f"{site.url}/console/sso/", timeout=10, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/login/"
