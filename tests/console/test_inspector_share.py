"""The token inspector in Chromium: "copy as curl" gives a command that makes the same
call through the gateway, and a shared link opens the same inspection for a colleague
without the token ever being in a URL."""

import hashlib
import re
import shlex
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from accounts.roles import Role
from console.inspector_extras import SHARE_PREFIX
from tests.conftest import publish_api
from tests.console.browser import ConsoleServer, screenshot
from tests.personas import staff_member
from tests.tokens import claims_for, sign

TIMEOUT_MS = 30_000


@pytest.fixture
def site(transactional_db, settings):
    server = ConsoleServer()
    settings.GATEWAY_PUBLIC_URL = server.public_url
    yield server
    server.stop()


def _signed_in(browser, site, username: str, password: str):
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page = context.new_page()
    page.goto("/console/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    return page


def test_copy_as_curl_and_a_shared_link_without_the_token(browser, site, idp, upstream, rsa_key):
    staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    staff_member("victor", Role.VIEWER, password="pw-victor-1")
    api, _, _ = publish_api(idp, upstream)
    token = sign(rsa_key, claims_for(idp.issuer))

    page = _signed_in(browser, site, "ada", "pw-ada-1")
    page.goto("/console/inspector/")
    page.fill("#inspect-token", token)
    page.select_option("#inspect-api", str(api.pk))
    page.fill("#inspect-path", "/pets")
    page.get_by_role("button", name="Get a shareable link").click()
    expect(page.locator("[data-verdict=allowed]")).to_be_visible()

    # Copy as curl: the clipboard holds a command that makes the very same call.
    page.get_by_role("button", name="Copy as curl").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#curl-command").input_value()
    assert copied.startswith("curl -i ")
    assert f"{site.public_url}/gateway/petstore/v1/pets" in copied
    hits = len(upstream.requests)
    result = subprocess.run(shlex.split(copied), capture_output=True, text=True, timeout=20)
    assert result.stdout.startswith("HTTP/1.1 200"), result.stdout[:300]
    assert len(upstream.requests) == hits + 1

    # The shared link names the call and a random id: never the token.
    share_url = page.locator("#share-url").input_value()
    assert token not in share_url and token.split(".")[1] not in share_url
    query = parse_qs(urlsplit(share_url).query)
    assert set(query) == {"api", "method", "path", "share"}
    assert len(query["share"][0]) == 22
    screenshot(page, "inspector-share")

    # A colleague with a read-only role opens it and sees the same decision.
    colleague = _signed_in(browser, site, "victor", "pw-victor-1")
    seen = []
    colleague.on("request", lambda request: seen.append(request.url))
    colleague.goto(share_url)
    expect(colleague.locator("[data-verdict=allowed]")).to_be_visible()
    expect(colleague.locator("#trace")).to_contain_text("signature")
    assert not any(token in url for url in seen)

    # Someone signed out is sent to sign in; the page shows no token.
    stranger = browser.new_context(base_url=site.url).new_page()
    stranger.goto(share_url)
    expect(stranger).to_have_url(re.compile(r"/console/login/\?next="))
    assert token not in stranger.content()

    # A guessed id finds nothing; an expired link asks for the token again.
    colleague.goto(share_url.replace(query["share"][0], "A" * 22))
    expect(colleague.locator("#share-expired")).to_be_visible()
    expect(colleague.locator("[data-verdict]")).to_have_count(0)
    cache.delete(SHARE_PREFIX + hashlib.sha256(query["share"][0].encode()).hexdigest())
    colleague.goto(share_url)
    expect(colleague.locator("#share-expired")).to_be_visible()
    expect(colleague.locator("#inspect-path")).to_have_value("/pets")
    expect(colleague.locator("#inspect-token")).to_have_value("")
