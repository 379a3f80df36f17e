"""Traffic limits in the admin API: CRUD with audit, field errors, roles, and usage."""

import itertools

import pytest

from accounts.roles import Role
from applications.models import Application
from tests.rest_api.crud import StaffOnlyCRUDTests, assert_field_errors, assert_problem
from tests.rest_api.test_apis import make_api
from tests.traffic.conftest import limit_api, limit_application
from traffic.models import ApplicationLimit, LimitPolicy

_numbers = itertools.count(1)


def new_api():
    return make_api(name=f"Limited {next(_numbers)}", base_path=f"/limited-{next(_numbers)}")


def new_application(api=None) -> Application:
    n = next(_numbers)
    application = Application.objects.create(
        name=f"Client {n}", identifying_claims={"client_id": f"c-{n}"}
    )
    if api is not None:
        application.apis.add(api)
    return application


class TestLimitPolicies(StaffOnlyCRUDTests):
    model = LimitPolicy
    update_data = {"rate": 50, "when_redis_down": "closed", "quota_per_month": 1_000_000}
    invalid_data = (
        {"rate": 0, "burst": -3, "quota_per_day": 10**13, "period": 5, "when_redis_down": "x"},
        {"rate", "burst", "quota_per_day", "period", "when_redis_down"},
    )

    def list_url(self) -> str:
        return "/api/v1/limit-policies/"

    def create_data(self) -> dict:
        return {"api": new_api().pk, "rate": 10, "period": 60, "quota_per_day": 1000}


class TestApplicationLimits(StaffOnlyCRUDTests):
    model = ApplicationLimit
    update_data = {"rate": 99, "quota_per_day": 5}
    invalid_data = ({"rate": -1, "quota_per_month": 0}, {"rate", "quota_per_month"})

    def list_url(self) -> str:
        return "/api/v1/application-limits/"

    def create_data(self) -> dict:
        api = new_api()
        return {"application": new_application(api).pk, "api": api.pk, "rate": 20}


def test_an_unknown_or_misspelt_field_is_refused(staff_client):
    response = staff_client.post(
        "/api/v1/limit-policies/", {"api": new_api().pk, "rate": 5, "rate_per_second": 5}
    )
    assert_field_errors(response, {"rate_per_second"})


def test_a_second_policy_for_one_api_is_a_field_error(staff_client):
    api = new_api()
    assert staff_client.post("/api/v1/limit-policies/", {"api": api.pk}).status_code == 201
    assert_field_errors(staff_client.post("/api/v1/limit-policies/", {"api": api.pk}), {"api"})


def test_a_second_override_for_one_application_and_api_is_a_field_error(staff_client):
    api = new_api()
    application = new_application(api)
    data = {"application": application.pk, "api": api.pk, "rate": 5}
    assert staff_client.post("/api/v1/application-limits/", data).status_code == 201
    response = staff_client.post("/api/v1/application-limits/", data)
    assert_field_errors(response, {"api"})
    assert "already has limits" in response.json()["errors"]["api"][0]


def test_operators_manage_application_limits_but_not_api_limits(role_client):
    operator = role_client(Role.OPERATOR)
    api = new_api()
    application = new_application(api)
    created = operator.post(
        "/api/v1/application-limits/", {"application": application.pk, "api": api.pk, "rate": 5}
    )
    assert created.status_code == 201, created.content
    assert_problem(
        operator.post("/api/v1/limit-policies/", {"api": api.pk, "rate": 5}), 403, "role_required"
    )
    viewer = role_client(Role.VIEWER)
    assert viewer.get("/api/v1/limit-policies/").status_code == 200
    assert_problem(
        viewer.patch(f"/api/v1/application-limits/{created.json()['id']}/", {"rate": 9}),
        403,
        "role_required",
    )


def test_usage_shows_the_limits_in_effect_and_what_is_left(staff_client, settings):
    api = new_api()
    application = new_application(api)
    limit_api(api, rate=10, period=60, quota_per_day=100, quota_per_month=1000)
    limit_application(application, api, quota_per_day=7)
    response = staff_client.get(f"/api/v1/applications/{application.pk}/usage/")
    assert response.status_code == 200, response.content
    body = response.json()
    row = body["apis"][0]
    assert row["api"] == api.pk and row["api_name"] == str(api)
    assert row["limits"] == {
        "rate": 10,
        "period": 60,
        "burst": 10,
        "quota_per_day": 7,
        "quota_per_month": 1000,
    }
    if settings.REDIS_URL:
        assert body["counters"] == "redis"
        assert (row["used_today"], row["remaining_today"]) == (0, 7)
        assert (row["used_this_month"], row["remaining_this_month"]) == (0, 1000)
        assert row["rate_remaining"] == 10
    else:
        assert body["counters"] == "process"
        assert row["used_today"] is None


@pytest.mark.parametrize("pk", ["999999", "abc"])
def test_usage_of_a_missing_application_is_a_404_problem(staff_client, pk):
    response = staff_client.get(f"/api/v1/applications/{pk}/usage/")
    assert_problem(response, 404, "not_found")
