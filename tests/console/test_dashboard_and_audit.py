"""The dashboard (counts, issuer health, recent changes) and the audit log with its filters."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from apis.services import activate_api
from authservers.models import AuthorizationServer, JwksSnapshot
from core.audit import record_event, snapshot
from core.models import AuditEvent

DASHBOARD = reverse("console:dashboard")
AUDIT = reverse("console:audit-log")


def test_a_fresh_install_gets_a_getting_started_checklist(console):
    response = console.get(DASHBOARD)
    assertContains(response, "Get started")
    assertContains(response, "No authorization servers")
    assertContains(response, "Nothing changed yet")
    assert [step["done"] for step in response.context["setup_steps"]] == [False] * 4


def test_counts_and_recent_changes(console, ready_api, application, ada):
    activate_api(ready_api, actor=ada)
    response = console.get(DASHBOARD)
    assert response.context["api_counts"] == {"total": 1, "active": 1, "inactive": 0}
    assert response.context["app_counts"] == {"total": 1, "suspended": 0}
    assert response.context["setup_steps"] is None  # an API is live: no checklist
    assertContains(response, "all healthy")
    events = list(response.context["events"])
    assert events[0].action == "activate"
    assertContains(response, "by ada")


def test_issuer_health_warns_about_stale_and_failing_key_sets(console, server):
    JwksSnapshot.objects.filter(server=server).update(fetched_at=timezone.now() - timedelta(days=2))
    failing = AuthorizationServer.objects.create(name="Flaky", issuer="https://flaky.example.com")
    JwksSnapshot.objects.create(
        server=failing, last_error="Connection refused", last_error_at=timezone.now()
    )
    response = console.get(DASHBOARD)
    health = {srv.name: h for srv, h in response.context["servers"]}
    assert (health["Dev IdP"].state, health["Dev IdP"].label) == ("error", "Stale")
    assert "calls fail with 503" in health["Dev IdP"].detail
    assert (health["Flaky"].state, health["Flaky"].detail) == (
        "error",
        "Never fetched: Connection refused",
    )
    assertContains(response, "2 need attention")


def test_the_audit_log_shows_who_changed_what_with_before_and_after(console, api, ada):
    before = snapshot(api)
    api.upstream_url = "https://new.internal"
    api.save()
    record_event(ada, "update", api, before, snapshot(api))
    response = console.get(AUDIT)
    (event, changes), *_ = response.context["rows"]
    assert event.action == "update"
    assert {
        "field": "upstream_url",
        "before": "http://127.0.0.1:9/",
        "after": "https://new.internal",
        "changed": True,
    } in changes
    flags = [row["changed"] for row in changes]
    assert flags == sorted(flags, reverse=True)  # changed fields first
    assert {"field": "name", "before": "Petstore", "after": "Petstore", "changed": False} in changes
    assertContains(response, '<tr class="changed"><td><code>upstream_url</code>')
    assertContains(response, "ada")


def test_the_audit_log_filters(console, api, application, ada):
    record_event("deploy-bot", "update", api, snapshot(api), snapshot(api))
    assert len(console.get(AUDIT, {"object_type": "api"}).context["rows"]) == 1
    assert len(console.get(AUDIT, {"action": "create"}).context["rows"]) == 1
    rows = console.get(AUDIT, {"actor": "deploy"}).context["rows"]
    assert [event.actor_name for event, _ in rows] == ["deploy-bot"]
    rows = console.get(AUDIT, {"q": "Petstore client"}).context["rows"]
    assert [event.object_type for event, _ in rows] == ["application"]
    rows = console.get(AUDIT, {"object_type": "api", "object_id": str(api.pk)}).context["rows"]
    assert len(rows) == 1
    response = console.get(AUDIT, {"actor": "nobody"})
    assertContains(response, "No change matches these filters")


def test_an_unknown_filter_value_drops_only_that_filter(console, api, application):
    record_event("deploy-bot", "update", api, None, None)
    rows = console.get(AUDIT, {"object_type": "nonsense", "actor": "deploy"}).context["rows"]
    assert [event.actor_name for event, _ in rows] == ["deploy-bot"]


def test_the_audit_log_pages_through_long_histories(console, api):
    for _ in range(55):
        record_event(None, "update", api)
    first = console.get(AUDIT)
    assert len(first.context["rows"]) == 50
    assertContains(first, "Older →")
    second = console.get(AUDIT, {"page": 2})
    assert len(second.context["rows"]) == 5
    assertNotContains(second, "Older →")


def test_the_empty_audit_log_says_what_will_appear(console):
    AuditEvent.objects.all().delete()
    assertContains(console.get(AUDIT), "No changes recorded yet")
