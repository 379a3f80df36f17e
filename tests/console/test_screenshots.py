"""Screenshots of the console's main pages at 1280 px and 390 px, for the README.

`./scripts/screenshots` runs this with GATEWAY_SCREENSHOTS_DIR=docs/screenshots and the
images are committed; in the test suite they go to test-artifacts/, and the test checks
that every page rendered at the width asked for, in the light and dark schemes it uses.
"""

import os
import struct
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.roles import Role
from apis.services import activate_api
from core.audit_context import audit_source
from tests.conftest import publish_api
from tests.console.browser import ConsoleServer
from tests.personas import staff_member
from tests.tokens import claims_for, sign

TIMEOUT_MS = 30_000
WIDTHS = (1280, 390)


def _target() -> Path:
    configured = os.environ.get("GATEWAY_SCREENSHOTS_DIR")
    if configured:
        return Path(configured).resolve()
    return Path(settings.BASE_DIR) / "test-artifacts" / "console" / "screenshots"


def _png_width(path: Path) -> int:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", header[16:20])[0]


@pytest.fixture
def site(transactional_db):
    server = ConsoleServer()
    yield server
    server.stop()


def test_screenshots_of_the_main_pages(browser, site, idp, upstream, rsa_key):
    ada = staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    with audit_source("console", "192.0.2.10"):
        api, server, application = publish_api(idp, upstream)
        activate_api(api, actor=ada)
    token = sign(rsa_key, claims_for(idp.issuer, aud="billing"))
    target = _target()
    target.mkdir(parents=True, exist_ok=True)
    pages = {
        "dashboard": "/console/",
        "apis": "/console/apis/",
        "api-detail": f"/console/apis/{api.pk}/",
        "api-routes": f"/console/apis/{api.pk}/routes/",
        "api-policy": f"/console/apis/{api.pk}/policy/",
        "application": f"/console/applications/{application.pk}/",
        "server": f"/console/servers/{server.pk}/",
        "audit-log": "/console/audit/",
        "inspector": "/console/inspector/",
    }
    written = []
    for width in WIDTHS:
        context = browser.new_context(
            base_url=site.url, viewport={"width": width, "height": 900}, color_scheme="light"
        )
        context.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        page = context.new_page()
        page.goto("/console/login/")
        written.append(_shot(page, target, "login", width))
        page.fill("#id_username", "ada")
        page.fill("#id_password", "pw-ada-1")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("h1")).to_have_text("Dashboard")
        for name, path in pages.items():
            page.goto(path)
            if name == "inspector":
                page.fill("#inspect-token", token)
                page.fill("#inspect-path", "/pets")
                page.get_by_role("button", name="Inspect", exact=True).click()
                expect(page.locator("[data-verdict]")).to_be_visible()
            written.append(_shot(page, target, name, width))
        context.close()
    for path in written:
        assert path.stat().st_size > 5_000, path
        assert _png_width(path) in WIDTHS, path


def _shot(page, target: Path, name: str, width: int) -> Path:
    path = target / f"{name}-{width}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)
    return path
