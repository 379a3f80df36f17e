"""The policy chain page: each policy saved through the services, targets with their health."""

from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.roles import Role
from core.models import AuditEvent
from policies.models import CorsPolicy, Transformation, UpstreamTarget
from policies.target_state import report


def _chain(api) -> str:
    return reverse("console:api-chain", args=[api.pk])


def test_the_page_lists_the_stages_and_every_policy(console, api):
    response = console.get(_chain(api))
    assert response.status_code == 200
    for title in (
        "CORS",
        "Client addresses",
        "Request limits",
        "Load balancing",
        "Upstream targets",
        "Transformations",
    ):
        assertContains(response, title)
    assertContains(response, "transport (CORS, request limits)")


def test_cors_is_saved_and_audited(console, api, ada):
    url = reverse("console:api-chain-save", args=[api.pk, "cors"])
    response = console.post(
        url,
        {
            "allowed_origins": "https://app.example.com https://*.example.org",
            "allowed_methods": "GET POST",
            "allowed_headers": "Authorization",
            "max_age_seconds": "600",
        },
    )
    assert response.status_code == 302
    policy = CorsPolicy.objects.get(api=api)
    assert policy.allowed_origins == ["https://app.example.com", "https://*.example.org"]
    assert AuditEvent.objects.filter(action="create", actor=ada).exists()


def test_errors_are_shown_on_the_form(console, api):
    url = reverse("console:api-chain-save", args=[api.pk, "cors"])
    response = console.post(
        url, {"allowed_origins": "null", "allowed_methods": "GET", "max_age_seconds": "1"}
    )
    assert response.status_code == 400
    assertContains(response, "sandboxed", status_code=400)
    add = reverse("console:api-chain-transformation", args=[api.pk])
    response = console.post(
        add,
        {
            "target": "request_header",
            "operation": "set",
            "name": "X-Forwarded-For",
            "source": "constant",
            "value": "1.2.3.4",
            "position": "0",
        },
    )
    assert response.status_code == 400
    assert not Transformation.objects.exists()


def test_targets_show_their_reported_health(console, api):
    console.post(
        reverse("console:api-chain-target", args=[api.pk]),
        {"url": "http://10.0.0.5:8080", "weight": "2", "enabled": "on"},
    )
    target = UpstreamTarget.objects.get()
    report(
        target.id,
        {
            "healthy": False,
            "reason": "2 failed health checks",
            "changed_at": 1.0,
            "reported_at": 1.0,
            "active_connections": 0,
            "worker": "node-a:7",
        },
    )
    response = console.get(_chain(api))
    assertContains(response, "out of rotation")
    assertContains(response, "2 failed health checks")


def test_a_viewer_sees_but_cannot_save(console_as, api):
    viewer = console_as(Role.VIEWER)
    assert viewer.get(_chain(api)).status_code == 200
    url = reverse("console:api-chain-save", args=[api.pk, "cors"])
    assert viewer.post(url, {"allowed_origins": "https://a.example"}).status_code == 403
    assert not CorsPolicy.objects.exists()
