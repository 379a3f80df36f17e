"""The same series in the console (server-rendered SVG) and the REST API."""

import re
import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.roles import Role
from analytics import histogram, services
from analytics.cells import Cell
from apis.models import Api
from applications.models import Application
from tests.personas import staff_member


@pytest.fixture
def traffic(db):
    """Known calls in the current minute: 8 OK (3 ms), 2 refused, for one API and app."""
    api = Api.objects.create(
        name="Orders", version="v2", base_path="/orders/v2", upstream_url="http://127.0.0.1:9/"
    )
    application = Application.objects.create(name="Shop frontend")
    minute = int(time.time()) // 60 * 60
    ok = Cell(count=8, latency_ms_sum=24.0)
    ok.buckets[histogram.bucket_of(3.0)] = 8
    refused = Cell(count=2, latency_ms_sum=2.0, refusals={"insufficient_scope": 2})
    refused.buckets[histogram.bucket_of(1.0)] = 2
    services.merge_cells(
        {(minute, api.pk, application.pk, 2): ok, (minute, api.pk, application.pk, 4): refused}
    )
    return api, application


def api_client(role: Role = Role.VIEWER) -> APIClient:
    from rest_framework.authtoken.models import Token

    user = staff_member(f"user-{role}", role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_the_rest_api_returns_the_series(traffic):
    api, application = traffic
    client = api_client()
    response = client.get(f"/api/v1/analytics/traffic/?window=hour&api={api.pk}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["window"] == "hour"
    assert body["step_seconds"] == 60
    assert len(body["points"]) == 60
    assert body["total"]["requests"] == 10
    assert body["total"]["errors"] == 2
    assert body["total"]["error_rate"] == 0.2
    assert 2 < body["total"]["p50_ms"] <= 5
    assert body["top_refusals"] == [{"code": "insufficient_scope", "count": 2}]
    assert (
        sum(point["requests"] for point in body["points"][-2:]) == 10
    )  # this minute (or the last)
    week = client.get(f"/api/v1/analytics/traffic/?window=week&application={application.pk}")
    assert week.json()["total"]["requests"] == 10
    assert len(week.json()["points"]) == 56
    apps = client.get("/api/v1/analytics/applications/?window=day").json()
    assert apps[0]["application"] == application.pk
    assert apps[0]["name"] == "Shop frontend"
    assert apps[0]["requests"] == 10
    assert apps[0]["last_seen"] is not None


def test_bad_queries_are_problems_and_anonymous_callers_are_refused(traffic):
    bad = api_client().get("/api/v1/analytics/traffic/?window=year")
    assert bad.status_code == 400
    assert bad["Content-Type"].startswith("application/problem+json")
    assert "window" in bad.json()["errors"]
    assert APIClient().get("/api/v1/analytics/traffic/").status_code in (401, 403)


def test_the_operations_are_in_the_openapi_schema(traffic):
    schema = api_client().get("/api/v1/schema/?format=json").json()
    traffic_op = schema["paths"]["/api/v1/analytics/traffic/"]["get"]
    assert traffic_op["operationId"] == "getTraffic"
    names = {parameter["name"] for parameter in traffic_op["parameters"]}
    assert {"window", "api", "application"} <= names
    apps_op = schema["paths"]["/api/v1/analytics/applications/"]["get"]
    assert apps_op["operationId"] == "getApplicationTraffic"


def console_client() -> Client:
    client = Client()
    client.force_login(staff_member("ada", Role.ADMINISTRATOR))
    return client


def metric(html: str, name: str) -> str:
    found = re.search(rf'data-metric="{name}">(.*?)</dd>', html, re.S)
    assert found, name
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def test_the_dashboard_api_and_application_pages_chart_the_traffic(traffic):
    api, application = traffic
    client = console_client()
    for url in [
        "/console/",
        f"/console/apis/{api.pk}/traffic/",
        f"/console/applications/{application.pk}/",
    ]:
        html = client.get(url).content.decode()
        assert metric(html, "requests") == "10", url
        assert metric(html, "error_rate") == "20 %", url
        assert metric(html, "p50").endswith(" ms"), url
        assert "<svg" in html and 'data-requests="10"' in html, url
        assert "insufficient_scope" in html, url
    assert metric(html, "last_seen") != "never"
    dashboard = client.get("/console/?traffic=week").content.decode()
    assert 'data-window="week"' in dashboard
    assert "Orders" in dashboard and "Shop frontend" in dashboard
    # An unknown window falls back to the hour.
    assert 'data-window="hour"' in client.get("/console/?traffic=<script>").content.decode()


def test_pages_without_traffic_say_so(db):
    html = console_client().get("/console/").content.decode()
    assert metric(html, "requests") == "0"
    assert metric(html, "p95") == "\N{EN DASH}"
    assert "No refusals in this window." in html
