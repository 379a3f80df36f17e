"""A real Chromium session logged into the console, then a page served through the gateway:
the page can neither read the console's cookies, nor use the admin API with them, nor
plant a session of its own (issue 11: cookies and headers at the boundary)."""

import json

from django.conf import settings
from playwright.sync_api import expect

from accounts.roles import Role
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.services import activate_api
from applications.services import create_application
from core.models import AuditEvent
from tests.console.browser import ConsoleServer
from tests.personas import staff_member
from tests.servers import LoopbackServer, QuietHandler

TIMEOUT_MS = 30_000
# The attacker's page: what a script on the public origin tries against the admin origin.
EVIL_PAGE = """<!doctype html><html><body><h1>Totally harmless</h1><script>
(async () => {
  const results = {cookie: document.cookie};
  try {
    const answer = await fetch(ADMIN + "/api/v1/applications/", {credentials: "include"});
    results.read = "read:" + answer.status + ":" + (await answer.text()).slice(0, 200);
  } catch (error) { results.read = "blocked"; }
  try {
    await fetch(ADMIN + "/api/v1/applications/APP/rotate-secret/", {
      method: "POST", credentials: "include", mode: "no-cors",
      headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "x=1"});
    results.post = "sent";
  } catch (error) { results.post = "blocked"; }
  window.results = results;
})();
</script></body></html>"""


class _EvilHandler(QuietHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        upstream: EvilUpstream = self.server.owner
        upstream.cookies_seen.append(self.headers.get("Cookie", ""))
        body = upstream.page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
            self.send_header("Set-Cookie", f"{name}=planted; Path=/")
        self.end_headers()
        self.wfile.write(body)


class EvilUpstream(LoopbackServer):
    """Serves the page, records the cookies it receives, tries to plant the console's."""

    def __init__(self, admin_url: str, application_id: int):
        self.page = EVIL_PAGE.replace("ADMIN", json.dumps(admin_url)).replace(
            "APP", str(application_id)
        )
        self.cookies_seen: list[str] = []
        super().__init__(_EvilHandler)


def test_a_page_served_through_the_gateway_cannot_use_the_console_session(
    browser, transactional_db, idp
):
    site = ConsoleServer()
    staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    application, _ = create_application(name="Victim app", identifying_claims={"sub": "x"})
    evil = EvilUpstream(site.url, application.pk)
    try:
        from authservers.models import AuthorizationServer

        server = AuthorizationServer.objects.create(name="IdP", kind="external", issuer=idp.issuer)
        api = Api.objects.create(
            name="Evil", version="v1", base_path="/evil/v1", upstream_url=evil.url
        )
        Route.objects.create(api=api, method="GET", path="/{path+}", anonymous=True)
        policy = IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["evil"])
        policy.authorization_servers.add(server)
        assert activate_api(api) == []

        context = browser.new_context(viewport={"width": 1200, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.goto(site.url + "/console/login/")
        page.fill("#id_username", "ada")
        page.fill("#id_password", "pw-ada-1")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible(timeout=TIMEOUT_MS)
        console_cookies = {c["name"]: c["value"] for c in context.cookies()}
        assert settings.SESSION_COOKIE_NAME in console_cookies
        rotations_before = AuditEvent.objects.filter(action="rotate-secret").count()

        evil_page = context.new_page()
        evil_page.goto(f"{site.public_url}/gateway/evil/v1/page")
        evil_page.wait_for_function("window.results !== undefined", timeout=TIMEOUT_MS)
        results = evil_page.evaluate("window.results")

        # Nothing of the console's session is visible to the page's script.
        assert "gatekeep_admin" not in results["cookie"], results
        # The admin API does not answer it (no CORS): the response is unreadable.
        assert results["read"] == "blocked", results
        # A blind cross-origin POST is refused by the CSRF check: no secret was rotated.
        assert AuditEvent.objects.filter(action="rotate-secret").count() == rotations_before
        # The upstream never saw the console's cookies.
        assert evil.cookies_seen and all("gatekeep_admin" not in c for c in evil.cookies_seen)
        # Its Set-Cookie for the console's names was dropped: the session is intact.
        after = {c["name"]: c["value"] for c in context.cookies()}
        assert after[settings.SESSION_COOKIE_NAME] == console_cookies[settings.SESSION_COOKIE_NAME]
        assert "planted" not in after.values()
        page.goto(site.url + "/console/")
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible(timeout=TIMEOUT_MS)
        context.close()
    finally:
        evil.stop()
        site.stop()
