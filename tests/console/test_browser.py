"""Real-browser scenarios: an admin protects an API end to end, and explains a refused token.

Chromium (Debian's package, headless) runs the console against the real WSGI app,
with the loopback identity provider and upstream from tests/conftest.py. Each main
page is saved as a screenshot under test-artifacts/console/.
"""

import time

import pytest
import requests
from playwright.sync_api import expect

from accounts.roles import Role
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.services import activate_api
from applications.services import create_application
from authservers.models import AuthorizationServer
from authservers.services import refresh_jwks
from tests.console.browser import ConsoleServer, screenshot
from tests.personas import staff_member
from tests.tokens import claims_for, sign

TIMEOUT_MS = 30_000


@pytest.fixture
def site(transactional_db):
    server = ConsoleServer()
    yield server
    server.stop()


@pytest.fixture
def admin_login(transactional_db):
    staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    return ("ada", "pw-ada-1")


def _context(browser, site, **options):
    context = browser.new_context(
        base_url=site.url, viewport={"width": 1360, "height": 900}, **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    return context


def _log_in(page, credentials) -> None:
    page.goto("/console/")
    expect(page).to_have_url("/console/login/?next=/console/")
    page.fill("#id_username", credentials[0])
    page.fill("#id_password", credentials[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def _nav(page, name: str) -> None:
    page.get_by_role("navigation", name="Console").get_by_role("link", name=name).click()


def _tab(page, name: str) -> None:
    """Open a tab of the API page: a link in its "API sections" navigation."""
    page.get_by_role("navigation", name="API sections").get_by_role("link", name=name).click()
    expect(
        page.get_by_role("navigation", name="API sections").locator("[aria-current=page]")
    ).to_contain_text(name)


def _message(page, text: str):
    return expect(page.locator(".messages")).to_contain_text(text)


def _gateway_get(url: str, token: str, expected: int) -> requests.Response:
    """GET through the proxy, giving the config version up to a few seconds to reach it."""
    deadline = time.monotonic() + 5
    while True:
        response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if response.status_code == expected or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_an_admin_protects_an_api_and_calls_it_through_the_gateway(
    browser, site, admin_login, idp, upstream, rsa_key
):
    context = _context(browser, site)
    page = context.new_page()

    page.goto("/console/")
    screenshot(page, "01-login")
    _log_in(page, admin_login)
    expect(page.get_by_role("heading", name="Get started")).to_be_visible()
    screenshot(page, "02-dashboard-getting-started")

    # The authorization server: its keys are fetched as soon as it is saved.
    _nav(page, "Authorization servers")
    expect(page.get_by_text("No authorization servers yet")).to_be_visible()
    page.get_by_role("link", name="Add a server").first.click()
    page.fill("#server-name", "Dev IdP")
    page.fill("#server-issuer", idp.issuer)
    page.get_by_role("button", name="Add server").click()
    _message(page, "Keys of Dev IdP fetched: rsa-1, ec-1.")
    expect(page.locator(".title-line")).to_contain_text("Healthy")
    screenshot(page, "03-server-detail")

    # The API: created inactive, and activation explains what is missing.
    _nav(page, "APIs")
    page.get_by_role("link", name="New API").click()
    page.fill("#api-name", "Petstore")
    page.fill("#api-version", "v1")
    page.fill("#api-base_path", "/petstore/v1")
    page.fill("#api-upstream_url", f"{upstream.url}/backend")
    page.get_by_role("button", name="Create API").click()
    _message(page, "Petstore v1 created.")
    page.get_by_role("button", name="Activate").first.click()
    _message(page, "Petstore v1 was not activated")
    expect(page.locator("#activation")).to_contain_text("The API has no routes.")
    screenshot(page, "04-api-activation-refused")

    _tab(page, "Routes")
    page.select_option("#routenew-method", "GET")
    page.fill("#routenew-path", "/pets")
    page.fill("#routenew-required_scopes", "pets:read")
    page.get_by_role("button", name="Add route").click()
    _message(page, "Route GET /pets added.")
    expect(page.locator("#routes tbody")).to_contain_text("/pets")

    # With JavaScript, htmx swaps the row for its form in place, and back on Cancel.
    detail_url = page.url
    page.locator("#routes tbody tr", has_text="/pets").get_by_role("link", name="Edit").click()
    expect(page.locator("tr.editing input[name=path]")).to_have_value("/pets")
    assert page.url == detail_url
    page.locator("tr.editing").get_by_role("link", name="Cancel").click()
    expect(page.locator("tr.editing")).to_have_count(0)
    expect(page.locator("#routes tbody")).to_contain_text("pets:read")

    # The policy tab is read-only; its form is behind an explicit Edit.
    _tab(page, "Policy")
    expect(page.get_by_text("No access policy yet")).to_be_visible()
    page.get_by_role("link", name="Set up the policy").click()
    page.locator("#policy").get_by_label("Dev IdP").check()
    page.fill("#policy-audiences", "petstore")
    page.locator('input[name="forward_claims-key"]').first.fill("sub")
    page.locator('input[name="forward_claims-value"]').first.fill("X-User")
    page.get_by_role("button", name="Save policy").click()
    _message(page, "Access policy saved.")
    expect(page.locator("#policy-summary")).to_contain_text("sub → X-User")
    _tab(page, "Overview")
    expect(page.locator("#activation")).to_contain_text("Ready to activate")

    # The application: identified by its client_id claim, associated with the API.
    _nav(page, "Applications")
    expect(page.get_by_text("No applications yet")).to_be_visible()
    page.get_by_role("link", name="Register an application").first.click()
    page.fill("#application-name", "Petstore client")
    rows = page.locator("#kv-rows-identifying_claims .kv-row")
    before = rows.count()
    page.locator("#kv-identifying_claims").get_by_role("button", name="+ Add a row").click()
    expect(rows).to_have_count(before + 1)  # htmx fetched one more row
    page.locator('input[name="identifying_claims-key"]').first.fill("client_id")
    page.locator('input[name="identifying_claims-value"]').first.fill("petstore-client")
    page.get_by_label("Petstore v1").check()
    page.get_by_role("button", name="Register").click()
    _message(page, "Petstore client registered.")
    secret = page.locator("#client-secret").input_value()
    assert len(secret) >= 30
    screenshot(page, "05-application-secret-shown-once")
    page.reload()
    expect(page.locator("#client-secret")).to_have_count(0)

    # Activate, then call the gateway through the proxy.
    page.goto("/console/apis/")
    page.get_by_role("link", name="Petstore").click()
    page.get_by_role("button", name="Activate").first.click()
    _message(page, "Petstore v1 is active")
    expect(page.locator(".title-line")).to_contain_text("Active")
    expect(page.locator("#curl-example")).to_contain_text("/gateway/petstore/v1/pets")
    screenshot(page, "06-api-detail-active")

    token = sign(rsa_key, claims_for(idp.issuer, scope="pets:read"))
    response = _gateway_get(f"{site.public_url}/gateway/petstore/v1/pets", token, 200)
    assert response.status_code == 200, response.text
    assert upstream.last["path"] == "/backend/pets"
    assert upstream.last["headers"]["x-user"] == "user-42"

    # A token for another audience: the inspector names the failing check.
    bad_token = sign(rsa_key, claims_for(idp.issuer, aud="billing"))
    assert (
        _gateway_get(f"{site.public_url}/gateway/petstore/v1/pets", bad_token, 401).status_code
        == 401
    )
    page.get_by_role("link", name="Inspect a token").click()
    page.fill("#inspect-token", f"Bearer {bad_token}")
    page.fill("#inspect-path", "/pets")
    page.get_by_role("button", name="Inspect").click()
    expect(page.locator("[data-verdict=refused]")).to_contain_text("invalid_token")
    failed = page.locator(".trace li.failed")
    expect(failed).to_have_count(1)
    expect(failed).to_have_attribute("data-check", "aud")
    expect(failed).to_contain_text("The token is not meant for this API (aud).")
    expect(page.locator("#decoded")).to_contain_text('"aud": "billing"')
    screenshot(page, "07-inspector-refused")

    page.fill("#inspect-token", token)
    page.get_by_role("button", name="Inspect").click()
    expect(page.locator("[data-verdict=allowed]")).to_contain_text("Petstore client")
    expect(page.locator(".trace li.failed")).to_have_count(0)
    screenshot(page, "08-inspector-allowed")

    # The API list filters as you type (htmx), and the URL keeps the filter.
    page.goto("/console/apis/")
    page.fill("#filter-q", "no-such-api")
    expect(page.get_by_text("No API matches these filters")).to_be_visible()
    expect(page).to_have_url("/console/apis/?q=no-such-api&status=&kind=")

    # The remaining main pages, as they look with data.
    for name, url in [
        ("09-dashboard", "/console/"),
        ("10-api-list", "/console/apis/"),
        ("11-application-list", "/console/applications/"),
        ("12-server-list", "/console/servers/"),
        ("13-audit-log", "/console/audit/"),
    ]:
        page.goto(url)
        expect(page.locator("h1")).to_be_visible()
        screenshot(page, name)
    expect(page.locator(".main table").first).to_contain_text("activate")
    context.close()


@pytest.fixture
def published_setup(transactional_db, idp, upstream):
    server = AuthorizationServer.objects.create(name="Dev IdP", kind="external", issuer=idp.issuer)
    assert refresh_jwks(server).ok
    api = Api.objects.create(
        name="Petstore", version="v1", base_path="/petstore/v1", upstream_url=upstream.url
    )
    Route.objects.create(api=api, method="GET", path="/pets")
    Route.objects.create(api=api, method="GET", path="/pets/{id}")
    policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["petstore"])
    policy.authorization_servers.add(server)
    create_application(
        name="Petstore client", identifying_claims={"client_id": "petstore-client"}, apis=[api]
    )
    assert activate_api(api) == []
    return api


def test_forms_and_confirmations_work_without_javascript(
    browser, site, admin_login, published_setup, rsa_key, idp
):
    api = published_setup
    context = _context(browser, site, java_script_enabled=False)
    page = context.new_page()
    _log_in(page, admin_login)
    page.goto(f"/console/apis/{api.pk}/")
    _tab(page, "Routes")

    # Inline route editing falls back to the same page with the row as a form.
    row = page.locator("#routes tbody tr", has_text="/pets/{id}")
    row.get_by_role("link", name="Edit").click()
    route_pk = _route(api, "/pets/{id}")
    expect(page).to_have_url(
        f"/console/apis/{api.pk}/routes/?edit_route={route_pk}#route-{route_pk}"
    )
    page.locator("tr.editing input[name=path]").fill("/pets/{petId}")
    page.locator("tr.editing").get_by_role("button", name="Save route").click()
    _message(page, "Route GET /pets/{petId} saved.")

    # A field error is shown in place, next to the field.
    page.fill("#routenew-path", "no-leading-slash")
    page.get_by_role("button", name="Add route").click()
    expect(page.locator(".card-foot .has-error")).to_be_visible()
    screenshot(page, "14-route-field-error-without-js")

    # Destructive actions go through a confirmation page.
    row = page.locator("#routes tbody tr", has_text="/pets/{petId}")
    row.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete route GET /pets/{petId}?")).to_be_visible()
    screenshot(page, "15-confirm-delete-route")
    page.get_by_role("button", name="Delete route").click()
    _message(page, "Route GET /pets/{petId} deleted.")

    page.get_by_role("link", name="Deactivate").click()
    expect(page.locator(".card")).to_contain_text("404 api_not_found")
    page.get_by_role("button", name="Deactivate").click()
    _message(page, "Petstore v1 is inactive")
    token = sign(rsa_key, claims_for(idp.issuer))
    assert (
        _gateway_get(f"{site.public_url}/gateway/petstore/v1/pets", token, 404).status_code == 404
    )
    context.close()


def _route(api: Api, path: str) -> int:
    return Route.objects.get(api=api, path=path).pk


def test_pickers_search_as_you_type_when_there_are_many_rows(browser, site, admin_login):
    """With more candidates than a list can hold (console/forms/pickers.py), the API
    page's "Allow" picker and the application form's APIs are searched through htmx."""
    apis = Api.objects.bulk_create(
        Api(name=f"Service {n:02d}", base_path=f"/svc{n:02d}", upstream_url="http://127.0.0.1:9/")
        for n in range(60)
    )
    from applications.models import Application

    Application.objects.bulk_create(Application(name=f"client-{n:03d}") for n in range(80))
    context = _context(browser, site)
    page = context.new_page()
    _log_in(page, admin_login)

    page.goto(f"/console/apis/{apis[0].pk}/applications/")
    page.locator("#applications input[type=search]").fill("client-04")
    options = page.locator("#picker-results-application input[type=radio]")
    expect(options).to_have_count(10)  # client-040 … client-049
    page.get_by_label("client-042").check()
    page.get_by_role("button", name="to call this API").click()
    _message(page, "client-042 may now call Service 00")
    expect(page.locator("#applications table")).to_contain_text("client-042")

    page.goto("/console/applications/new/")
    page.fill("#application-name", "Searching client")
    page.locator('input[name="apis__search"]').fill("svc07")
    page.locator("#picker-results-apis").get_by_label("Service 07").check()
    page.get_by_role("button", name="Register").click()
    _message(page, "Searching client registered.")
    assert [a.name for a in Application.objects.get(name="Searching client").apis.all()] == [
        "Service 07"
    ]
