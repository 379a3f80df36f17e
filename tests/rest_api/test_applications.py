import itertools

import pytest
from django.contrib.auth.hashers import check_password

from applications.models import Application
from core.models import AuditEvent
from tests.rest_api.crud import StaffOnlyCRUDTests, assert_field_errors
from tests.rest_api.test_apis import make_api

_numbers = itertools.count(1)
URL = "/api/v1/applications/"


def application_data(**overrides) -> dict:
    n = next(_numbers)
    return {"name": f"Billing {n}", "identifying_claims": {"client_id": f"billing-{n}"}} | overrides


class TestApplications(StaffOnlyCRUDTests):
    model = Application
    update_data = {"status": "suspended", "identifying_claims": {"iss": "https://x", "sub": "s"}}
    invalid_data = (
        {"name": "x", "identifying_claims": {"client_id": 5}, "custom_claims": ["a"]},
        {"identifying_claims", "custom_claims"},
    )

    def list_url(self) -> str:
        return URL

    def create_data(self) -> dict:
        return application_data()


def test_create_returns_the_client_secret_once(staff_client):
    api = make_api()
    response = staff_client.post(URL, application_data(apis=[api.pk]))
    assert response.status_code == 201, response.content
    body = response.json()
    application = Application.objects.get(pk=body["id"])
    assert body["apis"] == [api.pk]
    assert body["client_id"] == application.oauth_client.client_id != ""
    assert check_password(body["client_secret"], application.oauth_client.client_secret)

    for later in (
        staff_client.get(f"{URL}{body['id']}/").json(),
        staff_client.get(URL).json()["results"][0],
        staff_client.patch(f"{URL}{body['id']}/", {"description": "d"}).json(),
    ):
        assert "client_secret" not in later
        assert later["client_id"] == body["client_id"]
    event = AuditEvent.objects.get(action="create", object_type="application")
    assert body["client_secret"] not in str(event.after)


def test_rotate_secret_returns_a_new_secret_once_and_revokes_the_old(staff_client, staff_user):
    body = staff_client.post(URL, application_data()).json()
    response = staff_client.post(f"{URL}{body['id']}/rotate-secret/")
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["client_id"] == body["client_id"]
    assert rotated["client_secret"] != body["client_secret"]
    stored = Application.objects.get(pk=body["id"]).oauth_client.client_secret
    assert check_password(rotated["client_secret"], stored)
    assert not check_password(body["client_secret"], stored)
    event = AuditEvent.objects.get(action="rotate-secret")
    assert event.actor == staff_user
    assert rotated["client_secret"] not in str(event.before) + str(event.after)


def test_apis_are_set_and_replaced_by_id(staff_client):
    first, second = make_api(), make_api()
    body = staff_client.post(URL, application_data(apis=[first.pk])).json()
    response = staff_client.patch(f"{URL}{body['id']}/", {"apis": [second.pk, first.pk]})
    assert sorted(response.json()["apis"]) == sorted([first.pk, second.pk])
    assert staff_client.get(f"{URL}?apis={second.pk}").json()["count"] == 1
    cleared = staff_client.patch(f"{URL}{body['id']}/", {"apis": []}).json()
    assert cleared["apis"] == []
    assert not Application.objects.get(pk=body["id"]).apis.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"apis": [424242]}, "apis"),
        ({"apis": "1"}, "apis"),
        ({"identifying_claims": {"client_id": {"nested": "x"}}}, "identifying_claims"),
        ({"identifying_claims": {"client_id": ""}}, "identifying_claims"),
        ({"identifying_claims": {"bad claim": "x"}}, "identifying_claims"),
        ({"identifying_claims": ["client_id", "x"]}, "identifying_claims"),
        ({"identifying_claims": {"client_id": "a\x00b"}}, "identifying_claims"),
        ({"custom_claims": {"tier": 1}}, "custom_claims"),
        ({"status": "deleted"}, "status"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_applications_are_field_errors(staff_client, overrides, field):
    assert_field_errors(staff_client.post(URL, application_data(**overrides)), {field})
    assert not Application.objects.exists()


def test_names_are_unique(staff_client):
    staff_client.post(URL, application_data(name="Twin"))
    assert_field_errors(staff_client.post(URL, application_data(name="Twin")), {"name"})
    assert Application.objects.count() == 1


def assert_never_stored(response) -> None:
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private"} <= cache_control, response["Cache-Control"]
    assert response["Pragma"] == "no-cache"


def test_the_responses_carrying_a_secret_are_never_stored(staff_client):
    created = staff_client.post(URL, application_data())
    assert "client_secret" in created.json()
    assert_never_stored(created)
    rotated = staff_client.post(f"{URL}{created.json()['id']}/rotate-secret/")
    assert "client_secret" in rotated.json()
    assert_never_stored(rotated)
    assert not staff_client.get(f"{URL}{created.json()['id']}/").has_header("Pragma")
