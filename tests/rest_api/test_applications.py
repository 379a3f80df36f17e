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


# --- OAuth2 settings (issue 20): client type, grant types, redirect URIs, scopes -------

OAUTH_SETTINGS = {
    "client_type": "confidential",
    "grant_types": ["authorization_code", "refresh_token"],
    "redirect_uris": ["https://app.example/callback", "http://127.0.0.1:8765/cb"],
    "allowed_scopes": ["pets:read"],
}


def test_the_oauth_settings_round_trip_on_create_and_reach_the_oauth_client(staff_client):
    response = staff_client.post(URL, application_data(**OAUTH_SETTINGS))

    assert response.status_code == 201, response.content
    body = response.json()
    for name, value in OAUTH_SETTINGS.items():
        assert body[name] == value, name
        assert staff_client.get(f"{URL}{body['id']}/").json()[name] == value, name
    client = Application.objects.get(pk=body["id"]).oauth_client
    assert client.redirect_uris == "https://app.example/callback http://127.0.0.1:8765/cb"
    assert client.client_type == "confidential"
    assert client.authorization_grant_type == "authorization-code"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("redirect_uris", ["https://other.example/cb", "http://[::1]/cb", "http://localhost/x"]),
        ("grant_types", ["client_credentials"]),
        ("allowed_scopes", ["pets:read", "pets:write"]),
        ("client_type", "public"),
    ],
)
def test_each_oauth_setting_is_changed_by_patch(staff_client, name, value):
    body = staff_client.post(URL, application_data(**OAUTH_SETTINGS)).json()

    response = staff_client.patch(f"{URL}{body['id']}/", {name: value})

    assert response.status_code == 200, response.content
    assert response.json()[name] == value
    assert staff_client.get(f"{URL}{body['id']}/").json()[name] == value
    application = Application.objects.get(pk=body["id"])
    assert getattr(application, name) == value
    assert application.oauth_client.client_type == application.client_type
    assert application.oauth_client.redirect_uris.split() == application.redirect_uris


@pytest.mark.parametrize(
    ("overrides", "grant_types"),
    [
        ({}, ["client_credentials", "refresh_token", "password"]),
        (
            {"redirect_uris": ["https://app.example/cb"]},
            ["client_credentials", "authorization_code", "refresh_token", "password"],
        ),
        (
            {"client_type": "public", "redirect_uris": ["https://app.example/cb"]},
            ["authorization_code", "refresh_token"],
        ),
    ],
)
def test_without_grant_types_an_application_gets_every_grant_it_can_use(
    staff_client, overrides, grant_types
):
    response = staff_client.post(URL, application_data(**overrides))

    assert response.status_code == 201, response.content
    assert response.json()["grant_types"] == grant_types
    assert response.json()["allowed_scopes"] == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"redirect_uris": ["http://app.example/cb"]}, "redirect_uris"),
        ({"redirect_uris": ["https://app.example/cb#frag"]}, "redirect_uris"),
        ({"redirect_uris": ["https://*.example/cb"]}, "redirect_uris"),
        ({"redirect_uris": ["/relative/cb"]}, "redirect_uris"),
        ({"redirect_uris": ["myapp:/cb"]}, "redirect_uris"),
        ({"redirect_uris": ["https://user:pw@app.example/cb"]}, "redirect_uris"),
        ({"redirect_uris": ["https://app.example/a b"]}, "redirect_uris"),
        ({"redirect_uris": ["https://a.example/cb", "https://a.example/cb"]}, "redirect_uris"),
        ({"redirect_uris": "https://app.example/cb"}, "redirect_uris"),
        ({"grant_types": ["authorization_code"]}, "redirect_uris"),
        ({"grant_types": ["implicit"]}, "grant_types"),
        ({"grant_types": "client_credentials"}, "grant_types"),
        ({"client_type": "public", "grant_types": ["client_credentials"]}, "grant_types"),
        ({"client_type": "public", "grant_types": ["password"]}, "grant_types"),
        ({"client_type": "secretive"}, "client_type"),
        ({"allowed_scopes": ["pets read"]}, "allowed_scopes"),
        ({"allowed_scopes": "pets:read"}, "allowed_scopes"),
        ({"redirect_uri": "https://app.example/cb"}, "redirect_uri"),  # misspelt: not dropped
    ],
)
def test_invalid_oauth_settings_are_field_errors(staff_client, overrides, field):
    assert_field_errors(staff_client.post(URL, application_data(**overrides)), {field})
    assert not Application.objects.exists()


def test_a_refused_patch_changes_nothing(staff_client):
    body = staff_client.post(URL, application_data(**OAUTH_SETTINGS)).json()

    for change, field in [
        ({"redirect_uris": []}, "redirect_uris"),  # authorization_code needs one
        ({"client_type": "public", "grant_types": ["client_credentials"]}, "grant_types"),
        ({"redirect_uris": ["http://evil.example/cb"]}, "redirect_uris"),
        ({"client_secret": "chosen-by-me"}, "client_secret"),  # not a field: never dropped
    ]:
        assert_field_errors(staff_client.patch(f"{URL}{body['id']}/", change), {field})

    application = Application.objects.get(pk=body["id"])
    assert application.redirect_uris == OAUTH_SETTINGS["redirect_uris"]
    assert application.client_type == "confidential"
    assert application.oauth_client.redirect_uris.split() == OAUTH_SETTINGS["redirect_uris"]


def test_a_public_client_has_no_secret_and_none_can_be_rotated(staff_client):
    data = application_data(client_type="public", redirect_uris=["https://spa.example/cb"])
    created = staff_client.post(URL, data)

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["client_secret"] is None
    assert body["client_id"]
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert Application.objects.get(pk=body["id"]).oauth_client.client_type == "public"
    rotated = staff_client.post(f"{URL}{body['id']}/rotate-secret/")
    assert rotated.status_code == 400, rotated.content
    assert rotated["Content-Type"].startswith("application/problem+json")
    assert "public client" in rotated.json()["detail"]


def test_a_client_made_public_loses_its_secret(staff_client):
    body = staff_client.post(URL, application_data(**OAUTH_SETTINGS)).json()
    client = Application.objects.get(pk=body["id"]).oauth_client
    assert check_password(body["client_secret"], client.client_secret)

    staff_client.patch(f"{URL}{body['id']}/", {"client_type": "public"})

    client.refresh_from_db()
    assert client.client_type == "public"
    assert not check_password(body["client_secret"], client.client_secret)


def test_the_schema_types_the_oauth_settings(staff_client):
    schema = staff_client.get("/api/v1/schema/?format=json").json()["components"]["schemas"]
    properties = schema["Application"]["properties"]

    assert properties["redirect_uris"]["type"] == "array"
    assert properties["redirect_uris"]["items"]["type"] == "string"
    assert properties["allowed_scopes"] == properties["allowed_scopes"] | {
        "type": "array",
        "items": {"type": "string"},
    }
    grant_items = properties["grant_types"]["items"]
    grant_enum = (
        schema[grant_items["$ref"].rsplit("/", 1)[-1]] if "$ref" in grant_items else grant_items
    )
    assert set(grant_enum["enum"]) == {
        "client_credentials",
        "authorization_code",
        "refresh_token",
        "password",
    }
    client_type = properties["client_type"]
    client_type_enum = (
        schema[client_type["$ref"].rsplit("/", 1)[-1]]
        if "$ref" in client_type
        else schema[client_type["allOf"][0]["$ref"].rsplit("/", 1)[-1]]
        if "allOf" in client_type
        else client_type
    )
    assert set(client_type_enum["enum"]) == {"confidential", "public"}
    created = schema["ApplicationCreated"]["properties"]["client_secret"]
    assert created.get("nullable") is True
