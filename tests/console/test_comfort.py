"""Accessibility and comfort in Chromium: a skip link, visible focus rings, dark mode from
the system setting, a sidebar that folds and remembers it, and pages that fit 360 px."""

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from tests.conftest import publish_api
from tests.console.browser import ConsoleServer, screenshot
from tests.personas import staff_member

TIMEOUT_MS = 30_000


@pytest.fixture
def site(transactional_db):
    server = ConsoleServer()
    yield server
    server.stop()


def _page(browser, site, **options):
    context = browser.new_context(base_url=site.url, **options)
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    page.goto("/console/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pw-ada-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    return page


def _background(page) -> str:
    return page.evaluate("getComputedStyle(document.documentElement).backgroundColor")


def test_skip_link_focus_rings_and_dark_mode(browser, site):
    staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    page = _page(browser, site, viewport={"width": 1280, "height": 800}, color_scheme="light")
    assert _background(page) == "rgb(245, 246, 248)"

    # The first Tab reaches the skip link, shown on screen; Enter jumps to the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert page.evaluate("document.activeElement.getBoundingClientRect().top") >= 0
    page.keyboard.press("Enter")
    assert page.url.endswith("#main")

    # Keyboard focus draws a ring of at least 3 px on links and buttons.
    page.goto("/console/")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    ring = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert ring[0] == "solid" and ring[1] >= 3

    dark = _page(browser, site, viewport={"width": 1280, "height": 800}, color_scheme="dark")
    assert _background(dark) == "rgb(15, 19, 32)"
    card = dark.evaluate("getComputedStyle(document.querySelector('.card, .stat')).backgroundColor")
    assert card == "rgb(23, 28, 44)"
    screenshot(dark, "dark-dashboard")


def test_the_sidebar_folds_and_remembers_it(browser, site):
    staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    page = _page(browser, site, viewport={"width": 1280, "height": 800})
    sidebar = page.locator(".sidebar")
    assert sidebar.bounding_box()["width"] > 200
    toggle = page.get_by_role("button", name="Hide menu")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    toggle.click()
    expect(page.locator("html")).to_have_class("js sidebar-collapsed")
    assert sidebar.bounding_box()["width"] < 80
    # Folded to icons, the links keep their names and still work.
    nav = page.get_by_role("navigation", name="Console")
    nav.get_by_role("link", name="APIs").click()
    expect(page.get_by_role("heading", name="APIs", exact=True)).to_be_visible()
    assert sidebar.bounding_box()["width"] < 80  # remembered across pages
    page.locator("[data-sidebar-toggle]").click()
    assert sidebar.bounding_box()["width"] > 200


@pytest.mark.parametrize("width", [360])
def test_every_main_page_fits_a_360_px_screen(browser, site, idp, upstream, width):
    staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    api, server, application = publish_api(idp, upstream)
    page = _page(browser, site, viewport={"width": width, "height": 740})
    # The menu starts folded behind a toggle on a phone, and opens.
    nav = page.get_by_role("navigation", name="Console")
    expect(nav).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(nav.get_by_role("link", name="Audit log")).to_be_visible()
    page.get_by_role("button", name="Hide menu").click()
    for path in (
        "/console/",
        "/console/apis/",
        f"/console/apis/{api.pk}/",
        f"/console/apis/{api.pk}/routes/",
        f"/console/apis/{api.pk}/policy/",
        f"/console/apis/{api.pk}/history/",
        "/console/applications/",
        f"/console/applications/{application.pk}/",
        "/console/servers/",
        f"/console/servers/{server.pk}/",
        "/console/inspector/",
        "/console/audit/",
    ):
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
            f" > {width} + 1).slice(-3).map(e => e.tagName + '.' + e.className + '#' + e.id)"
        )
        assert overflow <= width, f"{path} is {overflow} px wide: {wide}"
    screenshot(page, "narrow-audit")
