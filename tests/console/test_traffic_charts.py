"""In a real browser: after known traffic through the data plane, the dashboard and the
API page chart it with the expected numbers (server-rendered SVG, no script needed)."""

import time

import pytest
import requests
from django.conf import settings
from playwright.sync_api import expect

from accounts.roles import Role
from analytics import services
from analytics.recorder import recorder
from tests.conftest import publish_api
from tests.console.browser import ConsoleServer, screenshot
from tests.personas import staff_member
from tests.tokens import claims_for, sign

TIMEOUT_MS = 30_000


@pytest.fixture
def site(transactional_db):
    server = ConsoleServer()
    yield server
    server.stop()


def _flush_traffic(expected: int) -> None:
    """What each worker's background thread and the Celery task do within a minute."""
    deadline = time.monotonic() + 10
    while recorder.pending_calls() < expected:
        assert time.monotonic() < deadline, "the calls were never recorded"
        time.sleep(0.02)
    recorder.flush()
    if settings.REDIS_URL:
        services.ingest()


def _charted(bars) -> int:
    """The calls the chart's bars stand for (each bar carries its count)."""
    return sum(int(bar.get_attribute("data-requests")) for bar in bars.all())


def test_the_dashboard_charts_known_traffic(browser, site, idp, upstream, rsa_key):
    staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    api, _server, _application = publish_api(idp, upstream)
    url = f"{site.public_url}/gateway/petstore/v1/pets"
    token = sign(rsa_key, claims_for(idp.issuer))
    recorder.take()
    session = requests.Session()
    for _ in range(12):
        assert session.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    for _ in range(3):
        assert session.get(url).status_code == 401
    _flush_traffic(15)

    context = browser.new_context(base_url=site.url, viewport={"width": 1360, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    page.goto("/console/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pw-ada-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    panel = page.locator("#traffic")
    expect(panel.get_by_role("heading", name="Traffic")).to_be_visible()
    expect(panel.locator('[data-metric="requests"]')).to_have_text("15")
    expect(panel.locator('[data-metric="error_rate"]')).to_have_text("20 %")
    expect(panel.locator('[data-metric="requests_per_minute"]')).to_have_text("0.25")
    expect(panel.locator('[data-code="missing_token"]')).to_have_text("3")
    chart = panel.get_by_role(
        "img", name="Requests per 1 minute(s), last hour: 15 in total, 3 errors"
    )
    expect(chart).to_be_visible()
    bars = chart.locator(".traffic-bar")
    assert _charted(bars) == 15  # one bar, or two if the calls straddled a minute
    expect(bars.first.locator("title")).to_contain_text(" calls, ")
    box = bars.last.locator("rect").first.bounding_box()
    assert box is not None and box["height"] > 5  # drawn, not a hairline
    expect(panel.get_by_role("link", name="Petstore client")).to_be_visible()
    screenshot(page, "traffic-dashboard")

    # The day window: the same calls in one 30-minute bar.
    panel.get_by_role("link", name="day").click()
    expect(page.locator("#traffic")).to_have_attribute("data-window", "day")
    expect(page.locator('#traffic [data-metric="requests"]')).to_have_text("15")

    page.goto(f"/console/apis/{api.pk}/traffic/")
    expect(page.locator('#traffic [data-metric="requests"]')).to_have_text("15")
    assert _charted(page.locator("#traffic .traffic-bar")) == 15
    screenshot(page, "traffic-api")
    context.close()
