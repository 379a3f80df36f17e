"""Limits in the Django admin: through the services (validated, audited), by role."""

import pytest
from django.test import Client

from accounts.roles import Role
from core.models import AuditEvent
from tests.personas import staff_member
from tests.world import build_world
from traffic.models import LimitPolicy


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def admin_as(role: Role) -> Client:
    client = Client()
    client.force_login(staff_member(f"staff-{role}", role))
    return client


POLICY = {"period": "1", "anonymous_period": "1", "when_redis_down": "closed", "rate": "5"}


def test_an_administrator_adds_a_limit_policy_audited(db):
    world = build_world()
    response = admin_as(Role.ADMINISTRATOR).post(
        "/admin/traffic/limitpolicy/add/", {**POLICY, "api": world.api.pk}
    )
    assert response.status_code == 302, response.content[:2000]
    policy = LimitPolicy.objects.get(api=world.api)
    assert (policy.rate, policy.when_redis_down) == (5, "closed")
    assert AuditEvent.objects.filter(object_type="limitpolicy", action="create").count() == 1


def test_the_admin_refuses_a_zero_rate_and_saves_nothing(db):
    world = build_world()
    response = admin_as(Role.ADMINISTRATOR).post(
        "/admin/traffic/limitpolicy/add/", {**POLICY, "api": world.api.pk, "rate": "0"}
    )
    assert response.status_code == 200  # the form again, with the error
    assert b"greater than or equal to 1" in response.content
    assert not LimitPolicy.objects.exists()


def test_an_operator_may_not_add_a_limit_policy(db):
    world = build_world()
    response = admin_as(Role.OPERATOR).post(
        "/admin/traffic/limitpolicy/add/", {**POLICY, "api": world.api.pk}
    )
    assert response.status_code == 403
    assert not LimitPolicy.objects.exists()
