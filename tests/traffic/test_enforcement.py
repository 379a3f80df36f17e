"""Rates, quotas and overrides on the in-process data plane, counted in the real Redis of
REDIS_URL (or per process without it)."""

import json
import xml.etree.ElementTree as ET

import pytest
import requests

from applications.models import Application
from tests.traffic.conftest import limit_api, limit_application
from traffic.choices import Period


def live(published) -> None:
    published.gateway_wait_for_reload()


def test_calls_beyond_the_rate_get_429_with_retry_after_and_ratelimit_headers(published):
    limit_api(published.api, rate=3, period=Period.MINUTE)
    live(published)
    token = published.token()
    answers = [published.get("/pets", token) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Policy"] == '"rate";q=3;w=60'
    assert answers[0].headers["RateLimit"].startswith('"rate";r=2;t=')
    assert answers[2].headers["RateLimit"].startswith('"rate";r=0;t=')
    refused = answers[3]
    assert refused.headers["Content-Type"] == "application/problem+json"
    problem = refused.json()
    assert problem["status"] == 429 and problem["code"] == "rate_limited"
    assert problem["request_id"] == refused.headers["X-Request-Id"]
    # 3 per minute: the next call is due 20 s after the first.
    assert 15 <= int(refused.headers["Retry-After"]) <= 20
    assert refused.headers["RateLimit"].startswith('"rate";r=0;t=')
    assert refused.headers["RateLimit-Policy"] == '"rate";q=3;w=60'
    assert published.upstream.hits == 3  # the refused call never reached the upstream


def test_an_api_without_limits_sends_no_ratelimit_headers(published):
    answer = published.get("/pets", published.token())
    assert answer.status_code == 200
    assert "RateLimit" not in answer.headers and "RateLimit-Policy" not in answer.headers


def test_a_burst_is_admitted_at_once_then_the_rate_applies(published):
    limit_api(published.api, rate=1, period=Period.HOUR, burst=5)
    live(published)
    token = published.token()
    statuses = [published.get("/pets", token).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2


def test_an_override_gives_one_application_its_own_limit(published):
    other = Application.objects.create(
        name="Other client", identifying_claims={"client_id": "other-client"}
    )
    other.apis.add(published.api)
    limit_api(published.api, rate=2, period=Period.MINUTE)
    limit_application(other, published.api, rate=5, period=Period.MINUTE)
    live(published)
    default_token = published.token()
    other_token = published.token(client_id="other-client")
    defaults = [published.get("/pets", default_token).status_code for _ in range(3)]
    others = [published.get("/pets", other_token).status_code for _ in range(6)]
    assert defaults == [200, 200, 429]
    assert others == [200] * 5 + [429]  # its own budget, not shared with the first


def test_an_override_for_every_api_keeps_the_apis_quota(published):
    limit_api(published.api, rate=1, period=Period.MINUTE, quota_per_day=4)
    limit_application(published.application, None, rate=100, period=Period.MINUTE)
    live(published)
    token = published.token()
    answers = [published.get("/pets", token) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 4 + [429]
    assert answers[0].headers["RateLimit-Policy"] == '"rate";q=100;w=60, "day";q=4;w=86400'
    assert answers[3].headers["RateLimit"].split(", ")[1].startswith('"day";r=0;t=')
    assert answers[4].json()["code"] == "quota_exceeded"
    # The daily quota comes back at the next UTC midnight.
    assert 1 <= int(answers[4].headers["Retry-After"]) <= 86400


def test_a_monthly_quota_refuses_once_used_up(published):
    limit_api(published.api, quota_per_month=2)
    live(published)
    token = published.token()
    answers = [published.get("/pets", token) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["RateLimit-Policy"] == '"month";q=2'
    assert answers[2].json()["code"] == "quota_exceeded"
    assert "monthly" in answers[2].json()["detail"]
    assert int(answers[2].headers["Retry-After"]) <= 31 * 86400


def test_a_refused_soap_call_gets_a_soap_fault_with_the_headers(published):
    from apis.models import Api

    Api.objects.filter(pk=published.api.pk).update(kind="SOAP")
    limit_api(published.api, rate=1, period=Period.HOUR, burst=1)
    live(published)
    headers = {"Content-Type": "text/xml", "Authorization": f"Bearer {published.token()}"}
    first = requests.post(published.url + "/pets", data=b"<E/>", headers=headers, timeout=5)
    second = requests.post(published.url + "/pets", data=b"<E/>", headers=headers, timeout=5)
    assert first.status_code == 200, (first.text, first.headers)
    assert second.status_code == 429
    assert second.headers["Content-Type"].startswith("text/xml")
    envelope = "{http://schemas.xmlsoap.org/soap/envelope/}"
    fault = ET.fromstring(second.content).find(f"{envelope}Body/{envelope}Fault")
    assert fault.findtext("faultcode") == "soap:Client"
    assert fault.findtext("detail/gatewayError/code") == "rate_limited"
    assert int(second.headers["Retry-After"]) >= 1
    assert second.headers["RateLimit-Policy"] == '"rate";q=1;w=3600'


@pytest.fixture
def behind_a_proxy(settings):
    """The loopback client is a trusted load balancer (set before the gateway starts)."""
    settings.GATEWAY_TRUSTED_PROXIES = ["127.0.0.1"]


def anonymous_calls(published, addresses: list[str]) -> list[int]:
    return [
        published.get("/health", headers={"X-Forwarded-For": address}).status_code
        for address in addresses
    ]


def test_anonymous_calls_are_limited_per_client_address_behind_a_trusted_proxy(
    behind_a_proxy, published
):
    limit_api(published.api, anonymous_rate=2, anonymous_period=Period.MINUTE)
    live(published)
    first = anonymous_calls(published, ["203.0.113.7"] * 3)
    second = anonymous_calls(published, ["198.51.100.9"] * 3)
    assert first == [200, 200, 429]
    assert second == [200, 200, 429]  # another client, its own budget
    refused = published.get("/health", headers={"X-Forwarded-For": "203.0.113.7"})
    assert refused.json()["code"] == "rate_limited"


def test_a_forged_forwarded_for_does_not_buy_an_untrusted_client_a_new_budget(published):
    limit_api(published.api, anonymous_rate=2, anonymous_period=Period.MINUTE)
    live(published)
    # No trusted proxy: every call counts against the peer's address, whatever it claims.
    statuses = anonymous_calls(published, ["203.0.113.1", "203.0.113.2", "203.0.113.3"])
    assert statuses == [200, 200, 429]


def test_an_application_on_an_anonymous_route_counts_as_the_application(published):
    limit_api(published.api, rate=1, period=Period.HOUR, anonymous_rate=100)
    live(published)
    token = published.token()
    assert published.get("/health", token).status_code == 200
    assert published.get("/health", token).status_code == 429
    assert published.get("/health").status_code == 200  # anonymous: the address's budget


def test_the_refusal_names_no_other_application_and_no_internal_detail(published):
    limit_api(published.api, rate=1, period=Period.HOUR, burst=1)
    live(published)
    token = published.token()
    published.get("/pets", token)
    body = published.get("/pets", token).text
    problem = json.loads(body)
    assert set(problem) == {"type", "title", "status", "detail", "code", "request_id"}
    assert "redis" not in body.lower() and "Petstore client" not in body


def test_usage_reads_what_the_gateway_counted(published, settings):
    from traffic.usage import application_usage

    limit_api(published.api, rate=10, period=Period.MINUTE, quota_per_day=5)
    live(published)
    token = published.token()
    assert [published.get("/pets", token).status_code for _ in range(2)] == [200, 200]
    usage = application_usage(published.application)
    row = usage["apis"][0]
    if not settings.REDIS_URL:
        assert usage["counters"] == "process" and row["used_today"] is None
        return
    assert usage["counters"] == "redis"
    assert (row["used_today"], row["remaining_today"]) == (2, 3)
    # No monthly quota: nothing counted per month.
    assert row["used_this_month"] is None and row["remaining_this_month"] is None
    assert 7 <= row["rate_remaining"] <= 8  # 10 at once, 2 used, refilling at 1 per 6 s
