"""Who may call the admin API: every documented operation is staff only.

The list of operations comes from the API's own OpenAPI schema, so an endpoint
added later is covered without touching this file.
"""

import re

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.middleware.csrf import get_token
from django.test import RequestFactory
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apis.models import Api
from rest_api.urls import SCHEMA_SETTINGS
from tests.rest_api.crud import assert_problem


def documented_operations() -> list[tuple[str, str]]:
    from drf_spectacular.settings import patched_settings

    with patched_settings(SCHEMA_SETTINGS):
        schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if path.startswith("/api/v1/")
    ]


OPERATIONS = documented_operations()


def test_the_schema_documents_the_whole_contract():
    contract = {
        ("GET", "/api/v1/authorization-servers/"),
        ("POST", "/api/v1/authorization-servers/"),
        ("GET", "/api/v1/authorization-servers/{id}/"),
        ("PATCH", "/api/v1/authorization-servers/{id}/"),
        ("DELETE", "/api/v1/authorization-servers/{id}/"),
        ("POST", "/api/v1/authorization-servers/{id}/refresh-jwks/"),
        ("POST", "/api/v1/authorization-servers/{id}/rotate-key/"),
        ("POST", "/api/v1/authorization-servers/{id}/revoke-key/"),
        ("GET", "/api/v1/apis/"),
        ("POST", "/api/v1/apis/"),
        ("GET", "/api/v1/apis/{id}/"),
        ("PATCH", "/api/v1/apis/{id}/"),
        ("DELETE", "/api/v1/apis/{id}/"),
        ("GET", "/api/v1/apis/{api_pk}/routes/"),
        ("POST", "/api/v1/apis/{api_pk}/routes/"),
        ("GET", "/api/v1/apis/{api_pk}/routes/{id}/"),
        ("PATCH", "/api/v1/apis/{api_pk}/routes/{id}/"),
        ("DELETE", "/api/v1/apis/{api_pk}/routes/{id}/"),
        ("GET", "/api/v1/apis/{id}/policy/"),
        ("PUT", "/api/v1/apis/{id}/policy/"),
        ("POST", "/api/v1/apis/{id}/activate/"),
        ("POST", "/api/v1/apis/{id}/deactivate/"),
        ("POST", "/api/v1/apis/import-openapi/"),
        ("GET", "/api/v1/applications/"),
        ("POST", "/api/v1/applications/"),
        ("GET", "/api/v1/applications/{id}/"),
        ("PATCH", "/api/v1/applications/{id}/"),
        ("DELETE", "/api/v1/applications/{id}/"),
        ("POST", "/api/v1/applications/{id}/rotate-secret/"),
        ("POST", "/api/v1/token-inspector/"),
        ("GET", "/api/v1/audit-events/"),
        ("GET", "/api/v1/audit-events/{id}/"),
        # Traffic limits (issue 16)
        ("GET", "/api/v1/limit-policies/"),
        ("POST", "/api/v1/limit-policies/"),
        ("GET", "/api/v1/limit-policies/{id}/"),
        ("PATCH", "/api/v1/limit-policies/{id}/"),
        ("DELETE", "/api/v1/limit-policies/{id}/"),
        ("GET", "/api/v1/application-limits/"),
        ("POST", "/api/v1/application-limits/"),
        ("GET", "/api/v1/application-limits/{id}/"),
        ("PATCH", "/api/v1/application-limits/{id}/"),
        ("DELETE", "/api/v1/application-limits/{id}/"),
        ("GET", "/api/v1/applications/{id}/usage/"),
        ("GET", "/api/v1/config/export/"),
        ("POST", "/api/v1/config/diff/"),
        ("POST", "/api/v1/config/apply/"),
        # Traffic analytics (issue 15) and the policy chain (issue 19)
        ("GET", "/api/v1/analytics/applications/"),
        ("GET", "/api/v1/analytics/traffic/"),
        ("GET", "/api/v1/apis/{api_pk}/targets/"),
        ("POST", "/api/v1/apis/{api_pk}/targets/"),
        ("DELETE", "/api/v1/apis/{api_pk}/targets/{id}/"),
        ("GET", "/api/v1/apis/{api_pk}/targets/{id}/"),
        ("PATCH", "/api/v1/apis/{api_pk}/targets/{id}/"),
        ("GET", "/api/v1/apis/{api_pk}/transformations/"),
        ("POST", "/api/v1/apis/{api_pk}/transformations/"),
        ("DELETE", "/api/v1/apis/{api_pk}/transformations/{id}/"),
        ("GET", "/api/v1/apis/{api_pk}/transformations/{id}/"),
        ("PATCH", "/api/v1/apis/{api_pk}/transformations/{id}/"),
        ("DELETE", "/api/v1/apis/{id}/client-addresses/"),
        ("GET", "/api/v1/apis/{id}/client-addresses/"),
        ("PUT", "/api/v1/apis/{id}/client-addresses/"),
        ("DELETE", "/api/v1/apis/{id}/cors/"),
        ("GET", "/api/v1/apis/{id}/cors/"),
        ("PUT", "/api/v1/apis/{id}/cors/"),
        ("DELETE", "/api/v1/apis/{id}/load-balancing/"),
        ("GET", "/api/v1/apis/{id}/load-balancing/"),
        ("PUT", "/api/v1/apis/{id}/load-balancing/"),
        ("DELETE", "/api/v1/apis/{id}/request-limits/"),
        ("GET", "/api/v1/apis/{id}/request-limits/"),
        ("PUT", "/api/v1/apis/{id}/request-limits/"),
        ("DELETE", "/api/v1/applications/{id}/client-addresses/"),
        ("GET", "/api/v1/applications/{id}/client-addresses/"),
        ("PUT", "/api/v1/applications/{id}/client-addresses/"),
    }
    assert set(OPERATIONS) == contract


def concrete(path: str, pk: int) -> str:
    return re.sub(r"\{[a-z_]+\}", str(pk), path)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_answers_401_to_anonymous_callers(anon_client, method, path):
    api = Api.objects.create(name="a", base_path="/a", upstream_url="https://a.example")
    response = anon_client.generic(method, concrete(path, api.pk), "{}", "application/json")
    body = assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"
    assert body["detail"].startswith("Authentication credentials were not provided.")
    assert "Authorization: Token <key>" in body["detail"]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_operation_answers_403_to_non_staff_users(member_client, method, path):
    api = Api.objects.create(name="a", base_path="/a", upstream_url="https://a.example")
    response = member_client.generic(method, concrete(path, api.pk), "{}", "application/json")
    assert_problem(response, 403, "permission_denied")
    assert Api.objects.filter(pk=api.pk, status="inactive").exists()


def test_a_wrong_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    body = assert_problem(client.get("/api/v1/apis/"), 401, "authentication_failed")
    assert body["detail"].startswith("Invalid token.")
    assert "drf_create_token" in body["detail"]


def test_an_inactive_staff_account_is_refused(staff_user, staff_client):
    staff_user.is_active = False
    staff_user.save()
    body = assert_problem(staff_client.get("/api/v1/apis/"), 401, "authentication_failed")
    assert body["detail"].startswith("User inactive or deleted.")


def test_session_auth_works_for_staff_and_keeps_csrf_on(staff_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert client.get("/api/v1/apis/").status_code == 200
    data = {"name": "a", "base_path": "/a", "upstream_url": "https://a.example"}
    refused = client.post("/api/v1/apis/", data, format="json")
    body = assert_problem(refused, 403, "csrf_failed")
    assert "CSRF" in body["detail"] and "X-CSRFToken" in body["detail"]
    assert not Api.objects.exists()

    token = get_token(RequestFactory().get("/"))  # what a page would have set as the cookie
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    accepted = client.post("/api/v1/apis/", data, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 201, accepted.content


def test_drf_create_token_makes_a_working_token(staff_user):
    call_command("drf_create_token", "ada")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=staff_user).key}")
    assert client.get("/api/v1/apis/").status_code == 200


def test_other_content_types_are_415(staff_client):
    response = staff_client.post("/api/v1/apis/", "name=a", content_type="text/plain")
    body = assert_problem(response, 415, "unsupported_media_type")
    assert "Content-Type: application/json" in body["detail"]


def test_the_schema_and_swagger_ui_are_served_to_staff(staff_client, staff_user):
    schema = staff_client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "tokenAuth" in document["components"]["securitySchemes"]
    browser = APIClient()
    browser.force_login(staff_user)  # Swagger UI is a page: a console session opens it
    docs = browser.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"/api/v1/schema/" in docs.content
    assert b"swagger-ui" in docs.content


@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/docs/"])
def test_the_schema_and_swagger_ui_are_not_public(anon_client, member_client, path):
    """They map the whole control plane: the same staff-only rule as the API itself."""
    anonymous = anon_client.get(path)
    assert_problem(anonymous, 401, "not_authenticated")
    assert b"openapi" not in anonymous.content and b"swagger-ui" not in anonymous.content
    assert_problem(member_client.get(path), 403, "permission_denied")


def test_non_staff_users_exist_only_as_403s(member_client):
    # The persona behind member_client is authenticated but not staff.
    assert get_user_model().objects.get(username="bob").is_staff is False
    assert member_client.get("/api/v1/audit-events/").status_code == 403


def test_the_browsable_api_renders_for_staff_in_a_browser(staff_user):
    client = APIClient()
    client.force_login(staff_user)
    api = Api.objects.create(name="a", base_path="/a", upstream_url="https://a.example")
    for path in [
        "/api/v1/",
        "/api/v1/apis/",
        f"/api/v1/apis/{api.pk}/",
        f"/api/v1/apis/{api.pk}/routes/",
        "/api/v1/applications/",
        "/api/v1/authorization-servers/",
        "/api/v1/audit-events/",
    ]:
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html")


def test_unknown_paths_under_the_api_are_json_404s(staff_client):
    for path in ["/api/v1/nope/", "/api/v1/apis/-1/", "/api/v1/apis/abc/routes/"]:
        body = assert_problem(staff_client.get(path), 404, "not_found")
        assert body["detail"] == (
            f"There is no admin-API endpoint at {path}. The endpoints are listed at /api/v1/ "
            "and documented at /api/v1/docs/."
        )
    missing_slash = staff_client.get("/api/v1/apis")
    assert (missing_slash.status_code, missing_slash["Location"]) == (301, "/api/v1/apis/")
