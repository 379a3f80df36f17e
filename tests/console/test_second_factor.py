"""Two-step sign-in for a local account, in Chromium: set up an authenticator app from the
console, then every sign-in asks for its code; a wrong or replayed code is refused and
audited, and too many wrong codes send the person back to the password."""

import base64
import re

import pytest
from django_otp.oath import totp
from playwright.sync_api import expect

from accounts.roles import Role
from core.models import AuditEvent
from tests.console.browser import ConsoleServer, screenshot
from tests.personas import staff_member

TIMEOUT_MS = 30_000


@pytest.fixture
def site(transactional_db):
    server = ConsoleServer()
    yield server
    server.stop()


def _code(key: bytes, drift: int = 0) -> str:
    return f"{totp(key, drift=drift):06d}"


def _password(page) -> None:
    page.goto("/console/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pw-ada-1")
    page.get_by_role("button", name="Sign in").click()


def test_a_local_account_sets_up_and_uses_an_authenticator(browser, site):
    staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    _password(page)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    page.get_by_role("link", name="Two-step sign-in").click()
    expect(page.locator("#second-factor-status")).to_contain_text("Off.")
    page.get_by_role("button", name="Set up an authenticator app").click()
    key_text = page.locator("#totp-key").inner_text().replace(" ", "")
    key = base64.b32decode(key_text + "=" * (-len(key_text) % 8))
    assert re.match(r"^otpauth://totp/", page.locator("#totp-url").get_attribute("href"))
    page.fill("#otp-code", "000000" if _code(key) != "000000" else "111111")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator(".errorlist, .field-error, .has-error").first).to_be_visible()
    page.wait_for_timeout(1100)  # django-otp throttles: 1 s after one failure
    page.fill("#otp-code", _code(key))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#second-factor-status")).to_contain_text("On.")
    assert AuditEvent.objects.filter(action="second-factor-added", object_repr="ada").exists()

    # Sign out; the password alone no longer signs in.
    page.get_by_role("button", name="Sign out").click()
    _password(page)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.goto("/console/")
    assert "/console/login/" in page.url  # not signed in yet

    _password(page)
    # The code used to confirm is spent: a replay is refused and audited.
    page.fill("#otp-code", _code(key))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("That code is not right, or was used already")).to_be_visible()
    failure = AuditEvent.objects.get(action="login-failed", object_repr="ada")
    assert failure.after["reason"] == "wrong_second_factor"
    screenshot(page, "second-factor")
    page.wait_for_timeout(1100)
    # The next step's code signs in.
    page.fill("#otp-code", _code(key, drift=1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert AuditEvent.objects.filter(action="login", object_repr="ada").count() == 2

    # Five wrong codes: back to the password.
    page.get_by_role("button", name="Sign out").click()
    _password(page)
    for _ in range(5):
        page.fill("#otp-code", "12345x")
        page.get_by_role("button", name="Verify").click()
    expect(page.locator(".messages")).to_contain_text("Too many wrong codes")
    assert "/console/login/" in page.url
