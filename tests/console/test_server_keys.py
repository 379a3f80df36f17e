"""The authorization server page in Chromium: the raw discovery and key documents, each
key's details (kid, algorithm, size, first and last seen), and a bounded history of
failed refreshes, as a key is rotated and the provider fails."""

import json

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from authservers.keysets import refresh_jwks
from authservers.models import AuthorizationServer, JwksFetchFailure, KeySighting
from tests.console.browser import ConsoleServer, screenshot
from tests.personas import staff_member
from tests.tokens import new_rsa_key

TIMEOUT_MS = 30_000


@pytest.fixture
def site(transactional_db):
    server = ConsoleServer()
    yield server
    server.stop()


def test_the_server_page_shows_documents_keys_and_failures(browser, site, idp, settings):
    settings.JWKS_FAILURE_HISTORY = 3
    staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    server = AuthorizationServer.objects.create(name="Dev IdP", kind="external", issuer=idp.issuer)
    assert refresh_jwks(server).ok
    first_seen = KeySighting.objects.get(server=server, kid="rsa-1").first_seen

    # The provider rotates: rsa-1 leaves, a 3072-bit rsa-2 arrives.
    idp.keys = [new_rsa_key("rsa-2", size=3072), idp.keys[1]]
    assert refresh_jwks(server).ok
    # Then it fails five times: only the newest three failures are kept.
    idp.mode = "error"
    for _ in range(5):
        assert refresh_jwks(server).ok is False
    assert JwksFetchFailure.objects.filter(server=server).count() == 3

    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    page.goto("/console/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pw-ada-1")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"/console/servers/{server.pk}/")

    keys = page.locator("#key-details tbody tr")
    expect(keys).to_have_count(3)
    old = page.locator("#key-details tr[data-kid=rsa-1]")
    expect(old).to_contain_text("RS256")
    expect(old).to_contain_text("2048 bits")
    expect(old).to_contain_text("gone")
    expect(old).to_contain_text(first_seen.strftime("%Y-%m-%d"))
    new = page.locator("#key-details tr[data-kid=rsa-2]")
    expect(new).to_contain_text("3072 bits")
    expect(new).to_contain_text("published")
    expect(page.locator("#key-details tr[data-kid=ec-1]")).to_contain_text("256 bits")

    failures = page.locator("#fetch-errors tbody tr")
    expect(failures).to_have_count(3)
    expect(page.locator("#fetch-errors")).to_contain_text("newest 3 failures are kept")

    # Refresh now from the page adds one, and the oldest kept one goes.
    oldest = JwksFetchFailure.objects.filter(server=server).order_by("at", "id").first()
    page.get_by_role("button", name="Refresh now").first.click()
    expect(page.locator(".messages")).to_be_visible()
    expect(failures).to_have_count(3)
    assert not JwksFetchFailure.objects.filter(pk=oldest.pk).exists()

    # The raw documents, as served at the last good refresh.
    page.locator("#raw-discovery summary").click()
    discovery = json.loads(page.locator("#raw-discovery pre").inner_text())
    assert discovery["issuer"] == idp.issuer
    assert discovery["jwks_uri"] == f"{idp.url}/jwks"
    page.locator("#raw-jwks summary").click()
    jwks = json.loads(page.locator("#raw-jwks pre").inner_text())
    assert sorted(key["kid"] for key in jwks["keys"]) == ["ec-1", "rsa-2"]
    assert not any("d" in key for key in jwks["keys"])  # public halves only
    screenshot(page, "server-key-history")
