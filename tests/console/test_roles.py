"""Least privilege in the console: the same roles as the REST API, page by page.

An allowed action must have its effect; a refused one is the 403 page naming the role
it needs, and changes nothing. Pages hide the buttons a role may not use.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.roles import Role
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from applications.models import Application
from authservers.models import AuthorizationServer, JwksSnapshot, SigningKey
from core.models import AuditEvent
from tests.console.test_access import ACTIONS, PAGES, _url, objects  # noqa: F401 - objects is a fixture
from tests.personas import staff_member
from tests.world import World, build_world

VIEWER, OPERATOR, ADMINISTRATOR = Role.VIEWER, Role.OPERATOR, Role.ADMINISTRATOR
EVERYONE = {VIEWER, OPERATOR, ADMINISTRATOR}
OPERATORS = {OPERATOR, ADMINISTRATOR}
ADMINISTRATORS = {ADMINISTRATOR}


def active_kid(world: World) -> str:
    return SigningKey.objects.get(server=world.server, state="active").kid


@dataclass
class Case:
    """A page (GET) or an action (POST), who may use it, and how to see it happened."""

    name: str
    url: Callable[[World], str]
    allowed: set[Role]
    happened: Callable[[World, dict], bool] | None = None  # None: a page, GET
    data: Callable[[World], dict] = field(default=lambda world: {})
    prepare: Callable[[World], dict] = field(default=lambda world: {})


def _url_of(name: str, *attrs: str) -> Callable[[World], str]:
    def url(world: World) -> str:
        args = []
        for attr in attrs:
            value = active_kid(world) if attr == "kid" else getattr(world, attr).pk
            args.append(value)
        return reverse(f"console:{name}", args=args)

    return url


def _activated(world: World) -> dict:
    Api.objects.filter(pk=world.api.pk).update(status="active")
    return {}


def _other_api(world: World) -> dict:
    other = Api.objects.create(name="Other", base_path="/other", upstream_url="http://127.0.0.1:9")
    return {"other": other.pk}


def _secret_hash(world: World) -> dict:
    return {"hash": Application.objects.get(pk=world.application.pk).oauth_client.client_secret}


def _snapshot_attempt(world: World) -> dict:
    return {"at": JwksSnapshot.objects.get(server=world.server).last_attempt_at}


def _kid(world: World) -> dict:
    return {"kid": active_kid(world)}


API_FORM = {
    "name": "Petstore",
    "version": "v1",
    "base_path": "/petstore/v1",
    "upstream_url": "http://127.0.0.1:8",
    "kind": "REST",
    "connect_timeout": "2",
    "read_timeout": "10",
}

CASES = [
    # Pages that only read, and the token inspector.
    Case("API list", _url_of("api-list"), EVERYONE),
    Case("API detail", _url_of("api-detail", "api"), EVERYONE),
    Case("API routes tab", _url_of("api-routes", "api"), EVERYONE),
    Case("API policy tab", _url_of("api-policy", "api"), EVERYONE),
    Case("API applications tab", _url_of("api-applications", "api"), EVERYONE),
    Case("API traffic tab", _url_of("api-traffic", "api"), EVERYONE),
    Case("API history tab", _url_of("api-history", "api"), EVERYONE),
    Case("application detail", _url_of("application-detail", "application"), EVERYONE),
    Case("server detail", _url_of("server-detail", "server"), EVERYONE),
    Case("audit log", _url_of("audit-log"), EVERYONE),
    Case("token inspector", _url_of("inspector"), EVERYONE),
    Case(
        "inspect a call",
        _url_of("inspector"),
        EVERYONE,
        lambda w, c: b"api_not_found" in c["response"].content,
        data=lambda w: {"api": w.api.pk, "method": "GET", "path": "/pets", "token": ""},
    ),
    # Operating.
    Case("deactivation confirmation", _url_of("api-deactivate-confirm", "api"), OPERATORS),
    Case("new application form", _url_of("application-create"), OPERATORS),
    Case(
        "secret rotation confirmation",
        _url_of("application-rotate-confirm", "application"),
        OPERATORS,
    ),
    Case(
        "activate an API",
        _url_of("api-activate", "api"),
        OPERATORS,
        lambda w, c: Api.objects.get(pk=w.api.pk).status == "active",
    ),
    Case(
        "deactivate an API",
        _url_of("api-deactivate", "api"),
        OPERATORS,
        lambda w, c: Api.objects.get(pk=w.api.pk).status == "inactive",
        prepare=_activated,
    ),
    Case(
        "bulk deactivation confirmation",
        lambda w: reverse("console:api-bulk-confirm") + f"?action=deactivate&apis={w.api.pk}",
        OPERATORS,
    ),
    Case(
        "deactivate APIs in bulk",
        _url_of("api-bulk"),
        OPERATORS,
        lambda w, c: Api.objects.get(pk=w.api.pk).status == "inactive",
        data=lambda w: {"action": "deactivate", "apis": [w.api.pk]},
        prepare=_activated,
    ),
    Case(
        "associate an application with an API",
        lambda w: reverse("console:api-associate", args=[Api.objects.get(name="Other").pk]),
        OPERATORS,
        lambda w, c: w.application.apis.filter(pk=c["other"]).exists(),
        data=lambda w: {"application": w.application.pk},
        prepare=_other_api,
    ),
    Case(
        "suspend an application",
        _url_of("application-suspend", "application"),
        OPERATORS,
        lambda w, c: Application.objects.get(pk=w.application.pk).status == "suspended",
    ),
    Case(
        "rotate an application's secret",
        _url_of("application-rotate", "application"),
        OPERATORS,
        lambda w, c: _secret_hash(w)["hash"] != c["hash"],
        prepare=_secret_hash,
    ),
    Case(
        "issue a test token",
        _url_of("application-test-token", "application"),
        OPERATORS,
        lambda w, c: AuditEvent.objects.filter(action="issue-test-token").exists(),
        data=lambda w: {"server": w.server.pk, "audience": "", "scope": "pets:read"},
    ),
    Case(
        "delete an application",
        _url_of("application-delete", "application"),
        OPERATORS,
        lambda w, c: not Application.objects.filter(pk=w.application.pk).exists(),
    ),
    Case(
        "refresh a server's keys",
        _url_of("server-refresh", "server"),
        OPERATORS,
        lambda w, c: _snapshot_attempt(w)["at"] != c["at"],
        prepare=_snapshot_attempt,
    ),
    # Administering.
    Case("new API form", _url_of("api-create"), ADMINISTRATORS),
    Case("API edit form", _url_of("api-edit", "api"), ADMINISTRATORS),
    Case("policy edit form", _url_of("api-policy-edit", "api"), ADMINISTRATORS),
    Case("new server form", _url_of("server-create"), ADMINISTRATORS),
    Case("key rotation confirmation", _url_of("server-rotate-confirm", "server"), ADMINISTRATORS),
    Case(
        "key revocation confirmation",
        _url_of("server-revoke-confirm", "server", "kid"),
        ADMINISTRATORS,
    ),
    Case(
        "change an API's upstream",
        _url_of("api-edit", "api"),
        ADMINISTRATORS,
        lambda w, c: Api.objects.get(pk=w.api.pk).upstream_url == "http://127.0.0.1:8",
        data=lambda w: API_FORM,
    ),
    Case(
        "add a route",
        _url_of("route-add", "api"),
        ADMINISTRATORS,
        lambda w, c: Route.objects.filter(api=w.api, path="/toys").exists(),
        data=lambda w: {"method": "GET", "path": "/toys", "required_scopes": ""},
    ),
    Case(
        "save the policy",
        _url_of("policy-save", "api"),
        ADMINISTRATORS,
        lambda w, c: IdentifyAndAuthorizePolicy.objects.get(api=w.api).audiences == ["zoo"],
        data=lambda w: {
            "authorization_servers": [w.server.pk],
            "identity_source": "header",
            "identity_name": "Authorization",
            "audiences": "zoo",
            "required_scopes": "",
        },
    ),
    Case(
        "delete an API",
        _url_of("api-delete", "api"),
        ADMINISTRATORS,
        lambda w, c: not Api.objects.filter(pk=w.api.pk).exists(),
    ),
    Case(
        "rotate the signing key",
        _url_of("server-rotate", "server"),
        ADMINISTRATORS,
        lambda w, c: active_kid(w) != c["kid"],
        prepare=_kid,
    ),
    Case(
        "revoke the signing key",
        _url_of("server-revoke", "server", "kid"),
        ADMINISTRATORS,
        lambda w, c: SigningKey.objects.get(kid=c["kid"]).state == "revoked",
        prepare=_kid,
    ),
    Case(
        "delete a server",
        _url_of("server-delete", "server"),
        ADMINISTRATORS,
        lambda w, c: not AuthorizationServer.objects.filter(pk=w.server.pk).exists(),
    ),
]


@pytest.fixture
def world(db) -> World:
    return build_world()


@pytest.mark.parametrize("role", [VIEWER, OPERATOR, ADMINISTRATOR])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_role_may_do_exactly_its_actions(world, console_as, role, case):
    client = console_as(role)
    context = case.prepare(world)
    url = case.url(world)
    page = case.happened is None
    response = client.get(url) if page else client.post(url, case.data(world))
    context["response"] = response
    if role in case.allowed:
        expected = 200 if case.happened is None or case.name == "inspect a call" else 302
        assert response.status_code == expected, response.content[:2000]
        if case.happened is not None:
            assert case.happened(world, context) is True
    else:
        needed = "operator" if case.allowed == OPERATORS else "administrator"
        assertContains(response, f"needs the {needed} role", status_code=403)
        assertContains(response, f"Your role ({role})", status_code=403)
        if case.happened is not None:
            assert case.happened(world, context) is False


@pytest.mark.parametrize(("name", "args"), PAGES + ACTIONS)
def test_staff_without_a_role_sees_and_does_nothing(console_as, objects, name, args):  # noqa: F811
    client = console_as(None)
    url = _url(name, args, objects)
    response = client.post(url) if (name, args) in ACTIONS else client.get(url)
    assertContains(response, "Your account has no Gatekeep role", status_code=403)
    assertContains(response, "manage.py set_role staff-none", status_code=403)
    assertNotContains(response, "Back to the console", status_code=403)
    assert Api.objects.filter(pk=objects["api"]).exists() is True
    assert Application.objects.get(pk=objects["app"]).status == "active"


def test_staff_without_a_role_can_sign_in_and_is_told_why_nothing_shows(db):
    staff_member("nora", None, password="pw-nora-1")
    client = Client()
    response = client.post(
        reverse("console:login"), {"username": "nora", "password": "pw-nora-1"}, follow=True
    )
    assert response.redirect_chain == [(reverse("console:dashboard"), 302)]
    assertContains(response, "Your account has no Gatekeep role", status_code=403)
    assertNotContains(response, "Petstore", status_code=403)


def _html(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_the_api_page_shows_each_role_only_its_buttons(world, console_as):
    def tabs(client: Client) -> str:
        names = ("api-detail", "api-routes", "api-policy", "api-applications")
        return "".join(_html(client, reverse(f"console:{n}", args=[world.api.pk])) for n in names)

    activate = reverse("console:api-activate", args=[world.api.pk])
    edit = reverse("console:api-edit", args=[world.api.pk])
    add_route = reverse("console:route-add", args=[world.api.pk])
    associate = reverse("console:api-associate", args=[world.api.pk])
    edit_policy = reverse("console:api-policy-edit", args=[world.api.pk])
    Api.objects.create(name="Other", base_path="/other", upstream_url="http://127.0.0.1:9")
    Application.objects.create(name="Unassociated")

    viewer = tabs(console_as(VIEWER))
    assert activate not in viewer and edit not in viewer and add_route not in viewer
    assert associate not in viewer and edit_policy not in viewer
    # The policy is a read-only summary for everyone; only the edit page has a form.
    assert 'id="policy-summary"' in viewer and "Save policy" not in viewer

    operator = tabs(console_as(OPERATOR))
    assert activate in operator and associate in operator
    assert edit not in operator and add_route not in operator and edit_policy not in operator

    administrator = console_as(ADMINISTRATOR)
    admin = tabs(administrator)
    assert activate in admin and edit in admin and add_route in admin and edit_policy in admin
    assert "Save policy" not in admin  # not until Edit is chosen
    assert "Save policy" in _html(administrator, edit_policy)


def test_the_server_page_offers_key_operations_to_administrators_only(world, console_as):
    url = reverse("console:server-detail", args=[world.server.pk])
    refresh = reverse("console:server-refresh", args=[world.server.pk])
    rotate = reverse("console:server-rotate-confirm", args=[world.server.pk])
    revoke = reverse("console:server-revoke-confirm", args=[world.server.pk, active_kid(world)])

    viewer = _html(console_as(VIEWER), url)
    assert refresh not in viewer and rotate not in viewer and revoke not in viewer
    operator = _html(console_as(OPERATOR), url)
    assert refresh in operator and rotate not in operator and revoke not in operator
    admin = _html(console_as(ADMINISTRATOR), url)
    assert refresh in admin and rotate in admin and revoke in admin


def test_the_sidebar_names_the_role(world, console_as):
    assert "(operator)" in _html(console_as(OPERATOR), reverse("console:dashboard"))
