"""In Chromium, against both real planes: the API page's tabs (without JavaScript), its
read-only policy with an explicit Edit, and the lists' sorting, page numbers, page
sizes, "last changed" column and bulk activation behind a confirmation."""

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from authservers.models import AuthorizationServer
from authservers.services import refresh_jwks
from tests.conftest import publish_api
from tests.console.browser import ConsoleServer, screenshot
from tests.personas import staff_member

TIMEOUT_MS = 30_000


@pytest.fixture
def site(transactional_db):
    server = ConsoleServer()
    yield server
    server.stop()


def _signed_in(browser, site, username: str, password: str, **options):
    context = browser.new_context(
        base_url=site.url, viewport={"width": 1360, "height": 900}, **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    page.goto("/console/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    return context, page


def _tabs(page):
    return page.get_by_role("navigation", name="API sections")


def _open_tab(page, name: str) -> None:
    _tabs(page).get_by_role("link", name=name).click()
    expect(_tabs(page).locator("[aria-current=page]")).to_contain_text(name)


def _rows(page):
    return page.locator("#api-results tbody tr")


def test_the_api_page_tabs_work_without_javascript(browser, site, idp, upstream):
    staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    staff_member("vic", Role.VIEWER, password="pw-vic-1")
    api, _, _ = publish_api(idp, upstream)
    context, page = _signed_in(browser, site, "ada", "pw-ada-1", java_script_enabled=False)
    page.goto(f"/console/apis/{api.pk}/")
    expect(_tabs(page).get_by_role("link")).to_have_count(6)
    current = _tabs(page).locator("[aria-current=page]")
    expect(current).to_have_count(1)
    expect(current).to_have_text("Overview")
    expect(page.locator("#curl-example")).to_contain_text("/gateway/petstore/v1/")

    _open_tab(page, "Routes")
    expect(page).to_have_url(f"/console/apis/{api.pk}/routes/")
    expect(page.locator("#routes tbody tr")).to_have_count(5)
    expect(_tabs(page).get_by_role("link", name="Routes")).to_contain_text("5")

    # The policy is a summary: nothing on the tab can change it by accident.
    _open_tab(page, "Policy")
    expect(page).to_have_url(f"/console/apis/{api.pk}/policy/")
    summary = page.locator("#policy-summary")
    expect(summary).to_contain_text("Test IdP")
    expect(summary).to_contain_text("email → X-User-Email")
    expect(page.locator("#tab-content input, #tab-content button")).to_have_count(0)
    screenshot(page, "api-policy-read-only")
    page.get_by_role("link", name="Edit the policy").click()
    expect(page).to_have_url(f"/console/apis/{api.pk}/policy/edit/")
    expect(_tabs(page).locator("[aria-current=page]")).to_have_text("Policy")
    expect(page.locator("#policy-audiences")).to_have_value("petstore")
    page.fill("#policy-audiences", "petstore pets")
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator(".messages")).to_contain_text("Access policy saved.")
    expect(page).to_have_url(f"/console/apis/{api.pk}/policy/")
    expect(summary).to_contain_text("pets")
    assert IdentifyAndAuthorizePolicy.objects.get(api=api).audiences == ["petstore", "pets"]

    _open_tab(page, "Applications")
    expect(page.locator("#applications")).to_contain_text("Petstore client")
    _open_tab(page, "Traffic")
    expect(page.locator("#traffic")).to_be_visible()
    expect(page.locator("#traffic-limits")).to_be_visible()
    _open_tab(page, "History")
    expect(page.locator("#history tbody tr").first).to_contain_text("Policy")
    screenshot(page, "api-history")
    context.close()

    # A viewer reads the same tabs, with no way into the policy form.
    context, page = _signed_in(browser, site, "vic", "pw-vic-1")
    page.goto(f"/console/apis/{api.pk}/policy/")
    expect(page.locator("#policy-summary")).to_be_visible()
    expect(page.get_by_role("link", name="Edit the policy")).to_have_count(0)
    page.goto(f"/console/apis/{api.pk}/policy/edit/")
    expect(page.get_by_text("needs the administrator role")).to_be_visible()
    context.close()


@pytest.fixture
def many_apis(transactional_db, idp):
    """57 incomplete APIs and 3 ready to activate: three pages of 25."""
    server = AuthorizationServer.objects.create(name="Dev IdP", kind="external", issuer=idp.issuer)
    assert refresh_jwks(server).ok
    Api.objects.bulk_create(
        Api(name=f"Filler {n:02d}", base_path=f"/filler{n:02d}", upstream_url="http://127.0.0.1:9/")
        for n in range(57)
    )
    ready = []
    for n in (1, 2, 3):
        api = Api.objects.create(
            name=f"Ready {n}", base_path=f"/ready{n}", upstream_url="http://127.0.0.1:9/"
        )
        Route.objects.create(api=api, method="GET", path="/pets")
        policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["ready"])
        policy.authorization_servers.add(server)
        ready.append(api)
    return ready


def test_lists_sort_page_and_activate_in_bulk(browser, site, many_apis):
    staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    staff_member("vic", Role.VIEWER, password="pw-vic-1")
    context, page = _signed_in(browser, site, "ada", "pw-ada-1")
    page.goto("/console/apis/")
    expect(_rows(page)).to_have_count(25)
    expect(_rows(page).first).to_contain_text("Filler 00")
    pages = page.get_by_role("navigation", name="Pages")
    # Alphabetical: the next page is "Next", never "Older".
    expect(pages.get_by_role("link", name="Next →")).to_be_visible()
    expect(pages).not_to_contain_text("Older")
    expect(page.get_by_role("columnheader", name="Last changed")).to_be_visible()
    expect(_rows(page).first.locator("td[data-updated]")).to_have_text(re.compile("just now|ago"))

    # Sorting: a header click sorts, a second click reverses.
    page.get_by_role("link", name="API", exact=True).click()
    expect(page).to_have_url("/console/apis/?sort=-name")
    expect(page.get_by_role("columnheader", name="API", exact=True)).to_have_attribute(
        "aria-sort", "descending"
    )
    expect(_rows(page).first).to_contain_text("Ready 3")
    page.get_by_role("link", name="Last changed").click()
    expect(page).to_have_url("/console/apis/?sort=-updated")
    expect(_rows(page).first).to_contain_text("Ready 3")  # the newest
    expect(pages.get_by_role("link", name="Older →")).to_be_visible()

    # Page size and page numbers.
    pages.get_by_role("link", name="50 per page").click()
    expect(_rows(page)).to_have_count(50)
    pages.get_by_role("link", name="Page 2", exact=True).click()
    expect(_rows(page)).to_have_count(10)
    expect(pages.get_by_role("link", name="Page 2", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page).to_have_url("/console/apis/?sort=-updated&per_page=50&page=2")
    screenshot(page, "api-list-sorted-paged")

    # Hostile values fall back to the defaults instead of failing.
    page.goto("/console/apis/?sort=%3Cscript%3E&per_page=-5&page=abc")
    expect(page.get_by_role("heading", name="APIs", exact=True)).to_be_visible()
    expect(_rows(page)).to_have_count(25)
    expect(_rows(page).first).to_contain_text("Filler 00")

    # Bulk activation: tick, confirm a page that lists exactly what changes, apply.
    page.goto("/console/apis/?q=Ready")
    expect(_rows(page)).to_have_count(3)
    page.get_by_label("Tick every API on this page").check()
    page.get_by_role("button", name="Activate…", exact=True).click()
    expect(page.get_by_role("heading", name="Activate 3 APIs?")).to_be_visible()
    changes = page.locator("#will-change li")
    expect(changes).to_have_count(3)
    expect(changes.first).to_contain_text("Ready 1 /ready1: inactive → active")
    screenshot(page, "api-bulk-confirm")
    assert Api.objects.filter(status="active").count() == 0  # confirming changed nothing
    page.get_by_role("button", name="Activate 3 APIs").click()
    expect(page.locator(".messages")).to_contain_text(
        "3 APIs activated: Ready 1, Ready 2, Ready 3."
    )
    expect(page).to_have_url("/console/apis/?q=Ready")
    expect(page.locator("#api-results .badge-green")).to_have_count(3)
    assert Api.objects.filter(status="active").count() == 3

    # A mixed choice: the confirmation says what will not change, and why.
    page.goto("/console/apis/?q=Filler+00")
    page.get_by_label("Tick Filler 00").check()
    page.get_by_role("button", name="Activate…", exact=True).click()
    expect(page.get_by_role("heading", name="Nothing to activate")).to_be_visible()
    expect(page.locator("#refused")).to_contain_text("The API has no routes.")
    expect(page.get_by_role("button", name="Activate", exact=False)).to_have_count(0)
    context.close()

    # A viewer sees the lists but cannot change APIs in bulk.
    context, page = _signed_in(browser, site, "vic", "pw-vic-1")
    page.goto("/console/apis/")
    expect(_rows(page)).to_have_count(25)
    expect(page.locator('#api-results input[type="checkbox"]')).to_have_count(0)
    expect(page.get_by_role("button", name="Deactivate…")).to_have_count(0)
    ready = many_apis[0]
    page.goto(f"/console/apis/bulk/confirm/?action=deactivate&apis={ready.pk}")
    expect(page.get_by_text("needs the operator role")).to_be_visible()
    assert Api.objects.get(pk=ready.pk).status == "active"
    context.close()
