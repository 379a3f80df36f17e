"""An application of an external issuer, in Chromium: the claims that identify it come
first, and the gateway's generated client id and secret stay folded away because nothing
uses them; for an API trusting the internal issuer they are shown, saying where used."""

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from apis.models import Api, IdentifyAndAuthorizePolicy
from applications.services import create_application
from authservers.models import AuthorizationServer
from tests.console.browser import ConsoleServer, screenshot
from tests.personas import staff_member

TIMEOUT_MS = 30_000


@pytest.fixture
def site(transactional_db):
    server = ConsoleServer()
    yield server
    server.stop()


def _api(name: str, server: AuthorizationServer) -> Api:
    api = Api.objects.create(
        name=name, version="v1", base_path=f"/{name.lower()}/v1", upstream_url="http://127.0.0.1:9/"
    )
    policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["x"])
    policy.authorization_servers.add(server)
    return api


def test_identifying_claims_first_and_gateway_credentials_only_where_used(browser, site):
    staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    external = AuthorizationServer.objects.create(
        name="Corp IdP", kind="external", issuer="https://idp.example.com"
    )
    internal = AuthorizationServer.objects.create(
        name="Gatekeep", kind="internal", issuer="https://gw.example.com", required_typ="at+jwt"
    )
    partner, _ = create_application(
        name="Partner app",
        identifying_claims={"iss": "https://idp.example.com", "sub": "svc-7"},
        apis=[_api("Orders", external)],
    )
    own, _ = create_application(
        name="Own app", identifying_claims={"team": "a"}, apis=[_api("Billing", internal)]
    )

    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    page.goto("/console/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pw-ada-1")
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"/console/applications/{partner.pk}/")
    claims = page.locator("#identifying-claims")
    expect(claims).to_contain_text("svc-7")
    # The identifying claims come before anything about the gateway's own credentials.
    order = page.evaluate(
        "document.querySelector('#identifying-claims')"
        ".compareDocumentPosition(document.querySelector('#credentials'))"
    )
    assert order & 4  # DOCUMENT_POSITION_FOLLOWING
    expect(page.locator("#credentials")).to_contain_text("Not used")
    expect(page.locator("#client-id")).not_to_be_visible()
    screenshot(page, "application-external")
    page.get_by_text("Show the generated client id and secret").click()
    expect(page.locator("#client-id")).to_be_visible()
    expect(page.locator("#client-id")).to_have_value(partner.client_id)

    page.goto(f"/console/applications/{own.pk}/")
    expect(page.locator("#credentials")).to_contain_text("Used: Billing v1 trusts")
    expect(page.locator("#client-id")).to_be_visible()
    expect(page.locator("#unused-credentials")).to_have_count(0)
