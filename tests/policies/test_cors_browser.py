"""A real browser (Chromium) calling a protected API cross-origin with a bearer token."""

import pytest

from policies.models import CorsPolicy
from tests.servers import LoopbackServer, QuietHandler

PAGE = b"<!doctype html><title>SPA</title><p>single-page app</p>"


class _PageHandler(QuietHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from tests.console.browser import CHROMIUM, CHROMIUM_ARGS

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000
            )
            yield browser
            browser.close()


@pytest.fixture
def pages():
    servers = [LoopbackServer(_PageHandler), LoopbackServer(_PageHandler)]
    yield servers
    for server in servers:
        server.stop()


CALL = """async ([url, token]) => {
  try {
    const response = await fetch(url, {headers: {Authorization: "Bearer " + token}});
    return {status: response.status, body: await response.json(),
            total: response.headers.get("X-Total-Count")};
  } catch (error) {
    return {error: String(error)};
  }
}"""


def test_a_page_on_an_allowed_origin_calls_the_api_with_a_token(published, attach, browser, pages):
    allowed, other = pages
    attach(CorsPolicy, allowed_origins=[allowed.url], exposed_headers=["X-Total-Count"])
    published.upstream.extra_headers = [("X-Total-Count", "3")]
    page = browser.new_page()
    try:
        page.goto(allowed.url + "/")
        good = page.evaluate(CALL, [published.url + "/pets/7", published.token()])
        assert good == {
            "status": 200,
            "body": {"ok": True, "method": "GET", "path": "/backend/pets/7"},
            "total": "3",
        }
        # A refusal is readable by the page too (the CORS headers come with it).
        bad = page.evaluate(CALL, [published.url + "/pets/7", "not-a-token"])
        assert bad["status"] == 401
        assert bad["body"]["code"] == "invalid_token"
        hits = published.upstream.hits
        assert hits == 1  # the preflights never reached the upstream

        page.goto(other.url + "/")
        refused = page.evaluate(CALL, [published.url + "/pets/7", published.token()])
        assert "TypeError" in refused["error"]  # the browser blocked it: no CORS headers
        assert published.upstream.hits == hits  # its preflight was refused at the gateway
    finally:
        page.close()
