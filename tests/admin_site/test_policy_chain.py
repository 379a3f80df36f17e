"""The policy chain in the Django admin: pages per policy type, writes through the services."""

import pytest
from django.test import Client

from accounts.roles import Role
from apis.models import Api
from core.models import AuditEvent
from policies.models import CorsPolicy, UpstreamTarget
from policies.target_state import report
from tests.personas import staff_member


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api(db):
    return Api.objects.create(
        name="Shop", version="v1", base_path="/shop/v1", upstream_url="http://127.0.0.1:9/x"
    )


def admin_as(role) -> Client:
    client = Client()
    client.force_login(staff_member(f"staff-{role}", role))
    return client


@pytest.mark.parametrize(
    "model",
    [
        "corspolicy",
        "clientaddresspolicy",
        "requestlimits",
        "transformation",
        "upstreamtarget",
        "loadbalancing",
    ],
)
def test_every_policy_type_has_an_admin_page(api, model):
    assert admin_as(Role.ADMINISTRATOR).get(f"/admin/policies/{model}/").status_code == 200


def test_an_admin_add_goes_through_the_services(api):
    client = admin_as(Role.ADMINISTRATOR)
    response = client.post(
        "/admin/policies/corspolicy/add/",
        {
            "api": api.pk,
            "allowed_origins": '["https://app.example.com"]',
            "allowed_methods": '["GET"]',
            "allowed_headers": "[]",
            "exposed_headers": "[]",
            "max_age_seconds": "60",
        },
    )
    assert response.status_code == 302
    assert CorsPolicy.objects.get().allowed_origins == ["https://app.example.com"]
    assert AuditEvent.objects.filter(action="create").exists()
    refused = client.post(
        "/admin/policies/corspolicy/add/",
        {
            "api": api.pk,
            "allowed_origins": '["null"]',
            "allowed_methods": '["GET"]',
            "allowed_headers": "[]",
            "exposed_headers": "[]",
            "max_age_seconds": "60",
        },
    )
    assert refused.status_code == 200  # the form again, with the error
    assert CorsPolicy.objects.count() == 1


def test_targets_list_their_reported_health(api):
    target = UpstreamTarget.objects.create(api=api, url="http://10.0.0.1:80")
    report(
        target.id,
        {
            "healthy": True,
            "reason": "2 good health checks",
            "changed_at": 1.0,
            "reported_at": 1.0,
            "active_connections": 0,
            "worker": "w:1",
        },
    )
    page = admin_as(Role.ADMINISTRATOR).get("/admin/policies/upstreamtarget/")
    assert b"in rotation: 2 good health checks" in page.content


def test_a_viewer_cannot_add(api):
    page = admin_as(Role.VIEWER).get("/admin/policies/corspolicy/add/")
    assert page.status_code == 403
