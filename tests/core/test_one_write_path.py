"""Every entry point (REST, console, Django admin, gateway_demo) writes through the same
services, so each resource obeys the same rules and leaves the same audit trail."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.services import save_api, save_route
from authservers.models import AuthorizationServer, JwksSnapshot, SigningKey, SigningKeyState
from authservers.services import save_server
from core import config_version
from core.models import AuditEvent
from demo.seed import ensure_demo


@pytest.fixture
def root(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw")


@pytest.fixture
def browser(root) -> Client:
    client = Client()
    client.force_login(root)
    return client


@pytest.fixture
def rest(root) -> APIClient:
    client = APIClient()
    client.default_format = "json"
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=root).key}")
    return client


SERVER_FIELDS = {
    "leeway_seconds": "60",
    "jwks_refresh_seconds": "300",
    "max_stale_seconds": "86400",
    "token_lifetime_seconds": "3600",
}
NO_INLINES = {
    f"{prefix}-{name}": "0"
    for prefix in ("jwks_snapshot", "signing_keys")
    for name in ("TOTAL_FORMS", "INITIAL_FORMS")
}


def create_internal_server(via: str, rest: APIClient, browser: Client) -> AuthorizationServer:
    name, issuer = f"Issuer via {via}", f"https://{via}.gateway.example.com"
    if via == "rest":
        body = {"name": name, "kind": "internal", "issuer": issuer}
        response = rest.post("/api/v1/authorization-servers/", body)
        assert response.status_code == 201, response.content
    elif via == "console":
        form = {"name": name, "kind": "internal", "issuer": issuer, **SERVER_FIELDS}
        form["allowed_algorithms"] = ["RS256", "ES256"]
        response = browser.post(reverse("console:server-create"), form)
        assert response.status_code == 302, response.content[:2000]
    elif via == "admin":
        form = {"name": name, "kind": "internal", "issuer": issuer, **SERVER_FIELDS}
        form.update(allowed_algorithms='["RS256", "ES256"]', **NO_INLINES)
        response = browser.post(reverse("admin:authservers_authorizationserver_add"), form)
        assert response.status_code == 302, response.content[:2000]
    else:
        return ensure_demo(issuer).server
    return AuthorizationServer.objects.get(name=name)


@pytest.mark.parametrize("via", ["rest", "console", "admin", "demo"])
def test_an_internal_server_signs_at_once_however_it_was_created(via, rest, browser):
    server = create_internal_server(via, rest, browser)
    states = sorted(SigningKey.objects.filter(server=server).values_list("state", flat=True))
    assert states == sorted([SigningKeyState.ACTIVE, SigningKeyState.NEXT])
    published = JwksSnapshot.objects.get(server=server).key_ids
    assert sorted(published) == sorted(key.kid for key in SigningKey.objects.filter(server=server))
    created = AuditEvent.objects.filter(
        action="create", object_type="authorizationserver", object_id=str(server.pk)
    )
    assert created.count() == 1


@pytest.fixture
def internal_server(db) -> AuthorizationServer:
    server = AuthorizationServer(name="Own", kind="internal", issuer="https://own.example.com")
    return save_server(server)


def test_rest_refuses_to_change_the_kind_of_a_server(rest, internal_server):
    url = f"/api/v1/authorization-servers/{internal_server.pk}/"
    response = rest.patch(url, {"kind": "external"})
    assert response.status_code == 400
    assert "fixed when it is created" in str(response.json())
    internal_server.refresh_from_db()
    assert internal_server.kind == "internal"


def test_the_django_admin_refuses_to_change_the_kind_of_a_server(browser, internal_server):
    form = {
        "name": internal_server.name,
        "kind": "external",
        "issuer": internal_server.issuer,
        "allowed_algorithms": '["RS256"]',
        **SERVER_FIELDS,
        **NO_INLINES,
    }
    form["signing_keys-TOTAL_FORMS"] = form["signing_keys-INITIAL_FORMS"] = str(
        SigningKey.objects.filter(server=internal_server).count()
    )
    url = reverse("admin:authservers_authorizationserver_change", args=[internal_server.pk])
    response = browser.post(url, form)
    assert response.status_code == 200  # the form again, with the error
    assert "fixed when it is created" in response.content.decode()
    internal_server.refresh_from_db()
    assert internal_server.kind == "internal"


def test_the_console_keeps_the_kind_of_a_server(browser, internal_server):
    form = {"name": "Renamed", "kind": "external", "issuer": internal_server.issuer}
    form.update(SERVER_FIELDS, allowed_algorithms=["RS256"])
    browser.post(reverse("console:server-edit", args=[internal_server.pk]), form)
    internal_server.refresh_from_db()
    assert (internal_server.name, internal_server.kind) == ("Renamed", "internal")


def test_routes_and_policies_added_in_the_django_admin_are_audited(
    transactional_db, browser, internal_server
):
    form = {
        "name": "Pets",
        "version": "v1",
        "base_path": "/pets",
        "upstream_url": "http://127.0.0.1:9/",
        "kind": "REST",
        "description": "",
        "connect_timeout": "5",
        "read_timeout": "30",
        "routes-TOTAL_FORMS": "1",
        "routes-INITIAL_FORMS": "0",
        "routes-0-method": "GET",
        "routes-0-path": "/{id}",
        "routes-0-required_scopes": "[]",
        "policy-TOTAL_FORMS": "1",
        "policy-INITIAL_FORMS": "0",
        "policy-0-authorization_servers": [str(internal_server.pk)],
        "policy-0-identity_source": "header",
        "policy-0-identity_name": "Authorization",
        "policy-0-audiences": '["pets"]',
        "policy-0-required_scopes": "[]",
        "policy-0-forward_claims": "{}",
    }
    before = config_version.read_config_version()
    response = browser.post(reverse("admin:apis_api_add"), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    api = Api.objects.get(base_path="/pets")
    policy = IdentifyAndAuthorizePolicy.objects.get(api=api)
    assert list(policy.authorization_servers.all()) == [internal_server]
    events = AuditEvent.objects.filter(action="create", actor__username="root")
    assert sorted(events.values_list("object_type", flat=True)) == [
        "api",
        "identifyandauthorizepolicy",
        "route",
    ]
    policy_event = events.get(object_type="identifyandauthorizepolicy")
    assert policy_event.after["authorization_servers"] == [internal_server.pk]
    # A new API is inactive: nothing the data plane serves changed (issue 21).
    assert config_version.read_config_version() == before


def test_a_bulk_delete_in_the_django_admin_is_audited_per_api(browser):
    apis = [
        save_api(Api(name=f"A{n}", base_path=f"/a{n}", upstream_url="http://127.0.0.1:9/"))
        for n in range(2)
    ]
    response = browser.post(
        reverse("admin:apis_api_changelist"),
        {"action": "delete_selected", "_selected_action": [a.pk for a in apis], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Api.objects.exists()
    deleted = AuditEvent.objects.filter(action="delete", object_type="api")
    assert sorted(deleted.values_list("object_id", flat=True)) == sorted(str(a.pk) for a in apis)


def test_one_transaction_announces_one_config_version(
    db, django_capture_on_commit_callbacks, monkeypatch
):
    published = []
    monkeypatch.setattr(
        config_version.config_bus, "announce", lambda version, number: published.append(number)
    )
    before = config_version.version_number(config_version.database_version())
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        # Active: changes of an API nobody is served do not move the version at all.
        api = Api(name="Many", base_path="/many", upstream_url="http://127.0.0.1:9/")
        api.status = "active"
        api = save_api(api)
        for n in range(3):
            save_route(Route(api=api, method="GET", path=f"/r{n}"))
    # One version for the whole transaction, the counter moved once and in order.
    assert published == [before + 1]
    assert config_version.version_number(config_version.database_version()) == before + 1
    assert AuditEvent.objects.filter(action="create").count() == 4


def test_a_refused_change_leaves_nothing_behind(db):
    server = AuthorizationServer(
        name="Cannot sign",
        kind="internal",
        issuer="https://nosign.example.com",
        allowed_algorithms=["PS256"],  # the gateway signs with RS256 or ES256 only
    )
    with pytest.raises(ValidationError) as refused:
        save_server(server)
    assert "allowed_algorithms" in refused.value.message_dict
    assert not AuthorizationServer.objects.filter(name="Cannot sign").exists()
    assert not AuditEvent.objects.exists()
    assert not SigningKey.objects.exists()
