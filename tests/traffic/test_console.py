"""Traffic limits in the console: an API's limits page, an application's overrides and its
usage (also on the application page), all through the services and by role."""

from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.roles import Role
from core.models import AuditEvent
from tests.personas import staff_member
from tests.world import build_world
from traffic.models import ApplicationLimit, LimitPolicy

POLICY = {"period": "1", "anonymous_period": "1", "when_redis_down": "open"}


def console_as(role: Role) -> Client:
    client = Client()
    client.force_login(staff_member(f"staff-{role}", role))
    return client


def test_an_administrator_sets_an_apis_limits_and_they_are_audited(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    world = build_world()
    console = console_as(Role.ADMINISTRATOR)
    detail = console.get(reverse("console:api-traffic", args=[world.api.pk]))
    assertContains(detail, reverse("console:api-limits", args=[world.api.pk]))
    response = console.post(
        reverse("console:api-limits-save", args=[world.api.pk]),
        {**POLICY, "rate": "100", "burst": "20", "quota_per_day": "5000"},
    )
    assert response.status_code == 302
    policy = LimitPolicy.objects.get(api=world.api)
    assert (policy.rate, policy.burst, policy.quota_per_day) == (100, 20, 5000)
    assert AuditEvent.objects.filter(object_type="limitpolicy", action="create").exists()
    page = console.get(reverse("console:api-limits", args=[world.api.pk]))
    assertContains(page, 'value="100"')


def test_a_hostile_value_is_shown_on_its_field_and_nothing_is_saved(db, settings):
    world = build_world()
    console = console_as(Role.ADMINISTRATOR)
    response = console.post(
        reverse("console:api-limits-save", args=[world.api.pk]),
        {**POLICY, "rate": "-5", "quota_per_month": "99999999999999999999", "anonymous_burst": "3"},
    )
    assert response.status_code == 200
    assertContains(response, "Ensure this value is greater than or equal to")
    assertContains(response, "Ensure this value is less than or equal to")
    assertContains(response, "A burst needs a rate")
    assert not LimitPolicy.objects.exists()
    response = console.post(
        reverse("console:api-limits-save", args=[world.api.pk]),
        {**POLICY, "rate": "0", "quota_per_day": "1000000000001"},
    )
    assertContains(response, "greater than or equal to 1")
    assertContains(response, "less than or equal to 1000000000000")
    assert not LimitPolicy.objects.exists()


def test_an_operator_sees_an_apis_limits_but_cannot_change_them(db):
    world = build_world()
    operator = console_as(Role.OPERATOR)
    page = operator.get(reverse("console:api-limits", args=[world.api.pk]))
    assert page.status_code == 200
    assertNotContains(page, "Save limits")
    refused = operator.post(
        reverse("console:api-limits-save", args=[world.api.pk]), {**POLICY, "rate": "5"}
    )
    assert refused.status_code == 403
    assert not LimitPolicy.objects.exists()


def test_an_operator_gives_an_application_its_own_limits_and_sees_its_usage(db, settings):
    world = build_world()
    LimitPolicy.objects.create(api=world.api, rate=10, quota_per_day=100)
    operator = console_as(Role.OPERATOR)
    url = reverse("console:application-limits", args=[world.application.pk])
    response = operator.post(
        reverse("console:application-limit-add", args=[world.application.pk]),
        {"api": world.api.pk, "period": "60", "rate": "30"},
    )
    assert response.status_code == 302, response.content[:2000]
    limit = ApplicationLimit.objects.get(application=world.application)
    assert (limit.api, limit.rate, limit.period) == (world.api, 30, 60)
    page = operator.get(url)
    assertContains(page, "30 / min")  # the limit in effect on the usage card
    # With Redis, what is left of the quota; without, the quota (each process counts alone).
    assertContains(page, "of 100 left" if settings.REDIS_URL else "quota 100")
    card = operator.get(reverse("console:application-usage", args=[world.application.pk]))
    assertContains(card, world.api.name)
    detail = operator.get(reverse("console:application-detail", args=[world.application.pk]))
    assertContains(detail, reverse("console:application-usage", args=[world.application.pk]))
    removed = operator.post(
        reverse("console:application-limit-delete", args=[world.application.pk, limit.pk])
    )
    assert removed.status_code == 302
    assert not ApplicationLimit.objects.exists()
    assert AuditEvent.objects.filter(object_type="applicationlimit", action="delete").exists()


def test_a_viewer_cannot_add_an_override(db):
    world = build_world()
    viewer = console_as(Role.VIEWER)
    page = viewer.get(reverse("console:application-limits", args=[world.application.pk]))
    assert page.status_code == 200
    assertNotContains(page, "Add limits")
    refused = viewer.post(
        reverse("console:application-limit-add", args=[world.application.pk]),
        {"api": world.api.pk, "period": "1", "rate": "3"},
    )
    assert refused.status_code == 403
    assert not ApplicationLimit.objects.exists()
