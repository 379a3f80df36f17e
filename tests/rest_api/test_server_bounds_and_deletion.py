"""Durations an authorization server accepts are bounded, and deleting a server that active
APIs trust is refused unless the caller asks for those APIs to be deactivated with it."""

import pytest

from apis.choices import ApiStatus
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.services import save_api, save_policy, save_route
from authservers.models import AuthorizationServer
from authservers.services import save_server
from core.models import AuditEvent

URL = "/api/v1/authorization-servers/"


@pytest.fixture
def server(db) -> AuthorizationServer:
    return save_server(
        AuthorizationServer(name="Own", kind="internal", issuer="https://own.example.com")
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("token_lifetime_seconds", 300_000_000_000),
        ("token_lifetime_seconds", 30 * 86400 + 1),
        ("max_stale_seconds", 9_000_000_000_000),
        ("max_stale_seconds", 30 * 86400 + 1),
        ("jwks_refresh_seconds", 86400 + 1),
        ("leeway_seconds", 301),
    ],
)
def test_an_unbounded_duration_is_a_field_error(staff_client, server, field, value):
    response = staff_client.patch(f"{URL}{server.pk}/", {field: value})
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    server.refresh_from_db()
    assert getattr(server, field) != value


def test_the_issuer_keeps_issuing_after_a_refused_lifetime(staff_client, server):
    staff_client.patch(f"{URL}{server.pk}/", {"token_lifetime_seconds": 300_000_000_000})
    server.refresh_from_db()
    assert server.token_lifetime_seconds == 3600


def test_the_schema_states_every_bound(staff_client):
    schema = staff_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    fields = schema["components"]["schemas"]["AuthorizationServer"]["properties"]
    assert fields["leeway_seconds"]["maximum"] == 300
    assert fields["jwks_refresh_seconds"]["maximum"] == 86400
    assert fields["max_stale_seconds"]["maximum"] == 30 * 86400
    assert fields["token_lifetime_seconds"]["maximum"] == 30 * 86400


@pytest.fixture
def trusted_api(server) -> Api:
    api = save_api(Api(name="Pets", base_path="/pets", upstream_url="http://127.0.0.1:9/"))
    save_route(Route(api=api, method="GET", path="/"))
    policy = IdentifyAndAuthorizePolicy(api=api, audiences=["pets"])
    save_policy(policy, authorization_servers=[server])
    Api.objects.filter(pk=api.pk).update(status=ApiStatus.ACTIVE)
    api.refresh_from_db()
    return api


def test_deleting_a_server_active_apis_trust_is_a_409_naming_them(
    staff_client, server, trusted_api
):
    response = staff_client.delete(f"{URL}{server.pk}/")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "server_in_use"
    assert body["apis"] == [{"id": trusted_api.pk, "name": str(trusted_api)}]
    assert AuthorizationServer.objects.filter(pk=server.pk).exists()
    trusted_api.refresh_from_db()
    assert trusted_api.status == ApiStatus.ACTIVE


def test_deactivate_apis_deletes_and_deactivates_in_one_audited_change(
    staff_client, server, trusted_api
):
    response = staff_client.delete(f"{URL}{server.pk}/?deactivate_apis=true")
    assert response.status_code == 204
    assert not AuthorizationServer.objects.filter(pk=server.pk).exists()
    trusted_api.refresh_from_db()
    assert trusted_api.status == ApiStatus.INACTIVE
    actions = set(AuditEvent.objects.values_list("action", "object_type"))
    assert {("deactivate", "api"), ("delete", "authorizationserver")} <= actions


def test_an_inactive_api_does_not_hold_a_server(staff_client, server, trusted_api):
    Api.objects.filter(pk=trusted_api.pk).update(status=ApiStatus.INACTIVE)
    assert staff_client.delete(f"{URL}{server.pk}/").status_code == 204


def test_a_malformed_flag_is_a_400(staff_client, server, trusted_api):
    response = staff_client.delete(f"{URL}{server.pk}/?deactivate_apis=perhaps")
    assert response.status_code == 400
    assert AuthorizationServer.objects.filter(pk=server.pk).exists()
