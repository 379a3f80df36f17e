"""Least privilege in the REST API: each role does exactly what accounts/roles.py says.

Every case is one call by one role; an allowed call must have its effect, a refused one
must be a 403 naming the role it needs and leave everything as it was.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from accounts.roles import Role, set_role
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from applications.models import Application
from authservers.models import AuthorizationServer, JwksSnapshot, SigningKey
from tests.personas import staff_member
from tests.rest_api.conftest import json_client
from tests.rest_api.test_access import OPERATIONS, concrete
from tests.world import World, build_world

VIEWER, OPERATOR, ADMINISTRATOR = Role.VIEWER, Role.OPERATOR, Role.ADMINISTRATOR
EVERYONE = {VIEWER, OPERATOR, ADMINISTRATOR}
OPERATORS = {OPERATOR, ADMINISTRATOR}
ADMINISTRATORS = {ADMINISTRATOR}

TINY_OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Tiny", "version": "1"},
    "servers": [{"url": "http://127.0.0.1:9/tiny"}],
    "paths": {"/things": {"get": {"responses": {"200": {"description": "ok"}}}}},
}


def active_kid(world: World) -> str:
    return SigningKey.objects.get(server=world.server, state="active").kid


@dataclass
class Case:
    """One call, who may make it, and how to see that it happened."""

    name: str
    method: str
    path: Callable[[World], str]
    allowed: set[Role]
    happened: Callable[[World, dict], bool]
    body: Callable[[World], dict] = field(default=lambda world: {})
    prepare: Callable[[World], dict] = field(default=lambda world: {})


def _other_api(world: World) -> dict:
    other = Api.objects.create(name="Other", base_path="/other", upstream_url="http://127.0.0.1:9")
    return {"other": other.pk}


def _activated(world: World) -> dict:
    Api.objects.filter(pk=world.api.pk).update(status="active")
    return {}


def _secret_hash(world: World) -> dict:
    return {"hash": Application.objects.get(pk=world.application.pk).oauth_client.client_secret}


def _snapshot_attempt(world: World) -> dict:
    return {"at": JwksSnapshot.objects.get(server=world.server).last_attempt_at}


def _kid(world: World) -> dict:
    return {"kid": active_kid(world)}


CASES = [
    # Reading, and the token inspector: every role.
    Case(
        "list APIs",
        "GET",
        lambda w: "/api/v1/apis/",
        EVERYONE,
        lambda w, c: c["response"].json()["count"] == 1,
    ),
    Case(
        "read a policy",
        "GET",
        lambda w: f"/api/v1/apis/{w.api.pk}/policy/",
        EVERYONE,
        lambda w, c: c["response"].json()["audiences"] == ["petstore"],
    ),
    Case(
        "list signing-key status",
        "GET",
        lambda w: f"/api/v1/authorization-servers/{w.server.pk}/",
        EVERYONE,
        lambda w, c: len(c["response"].json()["jwks_status"]["key_ids"]) == 2,
    ),
    Case(
        "read the audit log",
        "GET",
        lambda w: "/api/v1/audit-events/",
        EVERYONE,
        lambda w, c: c["response"].json()["count"] >= 1,
    ),
    Case(
        "inspect a token",
        "POST",
        lambda w: "/api/v1/token-inspector/",
        EVERYONE,
        lambda w, c: c["response"].json()["code"] == "api_not_found",
        body=lambda w: {"token": "", "api": w.api.pk, "method": "GET", "path": "/pets"},
    ),
    # Operating: operators and administrators.
    Case(
        "activate an API",
        "POST",
        lambda w: f"/api/v1/apis/{w.api.pk}/activate/",
        OPERATORS,
        lambda w, c: Api.objects.get(pk=w.api.pk).status == "active",
    ),
    Case(
        "deactivate an API",
        "POST",
        lambda w: f"/api/v1/apis/{w.api.pk}/deactivate/",
        OPERATORS,
        lambda w, c: Api.objects.get(pk=w.api.pk).status == "inactive",
        prepare=_activated,
    ),
    Case(
        "register an application",
        "POST",
        lambda w: "/api/v1/applications/",
        OPERATORS,
        lambda w, c: Application.objects.filter(name="New client").exists(),
        body=lambda w: {"name": "New client", "apis": [w.api.pk]},
    ),
    Case(
        "associate an application with another API",
        "PATCH",
        lambda w: f"/api/v1/applications/{w.application.pk}/",
        OPERATORS,
        lambda w, c: w.application.apis.filter(pk=c["other"]).exists(),
        body=lambda w: {"apis": [w.api.pk, Api.objects.get(name="Other").pk]},
        prepare=_other_api,
    ),
    Case(
        "rotate an application's secret",
        "POST",
        lambda w: f"/api/v1/applications/{w.application.pk}/rotate-secret/",
        OPERATORS,
        lambda w, c: _secret_hash(w)["hash"] != c["hash"],
        prepare=_secret_hash,
    ),
    Case(
        "delete an application",
        "DELETE",
        lambda w: f"/api/v1/applications/{w.application.pk}/",
        OPERATORS,
        lambda w, c: not Application.objects.filter(pk=w.application.pk).exists(),
    ),
    Case(
        "refresh a server's keys",
        "POST",
        lambda w: f"/api/v1/authorization-servers/{w.server.pk}/refresh-jwks/",
        OPERATORS,
        lambda w, c: _snapshot_attempt(w)["at"] != c["at"],
        prepare=_snapshot_attempt,
    ),
    # Administering: administrators only.
    Case(
        "create an API",
        "POST",
        lambda w: "/api/v1/apis/",
        ADMINISTRATORS,
        lambda w, c: Api.objects.filter(base_path="/new").exists(),
        body=lambda w: {"name": "New", "base_path": "/new", "upstream_url": "http://127.0.0.1:9"},
    ),
    Case(
        "change an API's upstream",
        "PATCH",
        lambda w: f"/api/v1/apis/{w.api.pk}/",
        ADMINISTRATORS,
        lambda w, c: Api.objects.get(pk=w.api.pk).upstream_url == "http://127.0.0.1:8",
        body=lambda w: {"upstream_url": "http://127.0.0.1:8"},
    ),
    Case(
        "delete an API",
        "DELETE",
        lambda w: f"/api/v1/apis/{w.api.pk}/",
        ADMINISTRATORS,
        lambda w, c: not Api.objects.filter(pk=w.api.pk).exists(),
    ),
    Case(
        "import an OpenAPI document",
        "POST",
        lambda w: "/api/v1/apis/import-openapi/",
        ADMINISTRATORS,
        lambda w, c: Api.objects.filter(name="Tiny").exists(),
        body=lambda w: {"document": TINY_OPENAPI},
    ),
    Case(
        "add a route",
        "POST",
        lambda w: f"/api/v1/apis/{w.api.pk}/routes/",
        ADMINISTRATORS,
        lambda w, c: Route.objects.filter(api=w.api, path="/toys").exists(),
        body=lambda w: {"method": "GET", "path": "/toys"},
    ),
    Case(
        "replace the policy",
        "PUT",
        lambda w: f"/api/v1/apis/{w.api.pk}/policy/",
        ADMINISTRATORS,
        lambda w, c: IdentifyAndAuthorizePolicy.objects.get(api=w.api).audiences == ["zoo"],
        body=lambda w: {"authorization_servers": [w.server.pk], "audiences": ["zoo"]},
    ),
    Case(
        "add an authorization server",
        "POST",
        lambda w: "/api/v1/authorization-servers/",
        ADMINISTRATORS,
        lambda w, c: AuthorizationServer.objects.filter(name="Corp IdP").exists(),
        body=lambda w: {"name": "Corp IdP", "issuer": "https://idp.example.com"},
    ),
    Case(
        "change a server",
        "PATCH",
        lambda w: f"/api/v1/authorization-servers/{w.server.pk}/",
        ADMINISTRATORS,
        lambda w, c: AuthorizationServer.objects.get(pk=w.server.pk).leeway_seconds == 30,
        body=lambda w: {"leeway_seconds": 30},
    ),
    Case(
        "rotate the signing key",
        "POST",
        lambda w: f"/api/v1/authorization-servers/{w.server.pk}/rotate-key/",
        ADMINISTRATORS,
        lambda w, c: active_kid(w) != c["kid"],
        prepare=_kid,
    ),
    Case(
        "revoke the signing key",
        "POST",
        lambda w: f"/api/v1/authorization-servers/{w.server.pk}/revoke-key/",
        ADMINISTRATORS,
        lambda w, c: SigningKey.objects.get(kid=c["kid"]).state == "revoked",
        body=lambda w: {"kid": active_kid(w)},
        prepare=_kid,
    ),
    Case(
        "delete a server",
        "DELETE",
        lambda w: f"/api/v1/authorization-servers/{w.server.pk}/",
        ADMINISTRATORS,
        lambda w, c: not AuthorizationServer.objects.filter(pk=w.server.pk).exists(),
    ),
]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every case creates a user; PBKDF2 would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db) -> World:
    return build_world()


@pytest.mark.parametrize("role", [VIEWER, OPERATOR, ADMINISTRATOR])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_role_may_do_exactly_its_actions(world, role_client, role, case):
    client = role_client(role)
    context = case.prepare(world)
    response = client.generic(
        case.method, case.path(world), json.dumps(case.body(world)), "application/json"
    )
    context["response"] = response
    if role in case.allowed:
        assert response.status_code in (200, 201, 204), response.content
        assert case.happened(world, context) is True
    else:
        assert response.status_code == 403, response.content
        needed = "operator" if case.allowed == OPERATORS else "administrator"
        assert f"needs the {needed} role" in response.json()["detail"]
        assert f"Your role ({role})" in response.json()["detail"]
        assert case.happened(world, context) is False


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_staff_without_a_role_can_do_nothing(world, role_client, method, path):
    client = role_client(None)
    response = client.generic(method, concrete(path, world.api.pk), "{}", "application/json")
    assert response.status_code == 403, response.content
    assert "no Gatekeep role" in response.json()["detail"]
    assert "manage.py set_role staff-none" in response.json()["detail"]
    assert Api.objects.get(pk=world.api.pk).status == "inactive"
    assert SigningKey.objects.filter(server=world.server, state="active").count() == 1


def test_options_reveals_the_schema_to_viewers_only(world, role_client):
    assert role_client(VIEWER).options("/api/v1/apis/").status_code == 200
    assert role_client(None).options("/api/v1/apis/").status_code == 403


def test_unsupported_methods_stay_405_for_every_role(world, role_client):
    response = role_client(VIEWER).put(f"/api/v1/apis/{world.api.pk}/", {}, format="json")
    assert response.status_code == 405


def test_a_superuser_is_an_administrator_without_any_group(world):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = json_client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=root).key}")
    kid = active_kid(world)
    response = client.post(f"/api/v1/authorization-servers/{world.server.pk}/rotate-key/")
    assert response.status_code == 200, response.content
    assert active_kid(world) != kid


def test_a_role_without_staff_status_grants_nothing(world):
    user = staff_member("eve", ADMINISTRATOR)
    user.is_staff = False
    user.save()
    client = json_client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.get("/api/v1/apis/").status_code == 403
    assert client.post(f"/api/v1/apis/{world.api.pk}/activate/").status_code == 403
    assert Api.objects.get(pk=world.api.pk).status == "inactive"


def test_a_role_change_applies_to_the_next_request(world):
    user = staff_member("carol", ADMINISTRATOR)
    client = json_client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    patch = {"upstream_url": "http://127.0.0.1:8"}
    assert client.patch(f"/api/v1/apis/{world.api.pk}/", patch).status_code == 200
    set_role(user, VIEWER)
    refused = client.patch(f"/api/v1/apis/{world.api.pk}/", {"upstream_url": "http://a.test"})
    assert refused.status_code == 403
    assert Api.objects.get(pk=world.api.pk).upstream_url == "http://127.0.0.1:8"


def test_the_browsable_api_offers_no_write_form_to_a_viewer(world):
    from django.test import Client

    viewer, admin = Client(), Client()
    viewer.force_login(staff_member("vera", VIEWER))
    admin.force_login(staff_member("adam", ADMINISTRATOR))
    url = f"/api/v1/apis/{world.api.pk}/"
    for method in (b'data-method="DELETE"', b'data-method="PATCH"'):
        assert method not in viewer.get(url, HTTP_ACCEPT="text/html").content
        assert method in admin.get(url, HTTP_ACCEPT="text/html").content
