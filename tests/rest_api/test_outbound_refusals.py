"""Issue 12: upstreams and authorization servers cannot point at metadata, link-local,
unspecified or denied addresses - in any spelling - nor an upstream at the gateway itself."""

import itertools

import pytest

from apis.models import Api
from authservers.models import AuthorizationServer
from tests.rest_api.crud import assert_field_errors

_numbers = itertools.count(1)

# The spellings of the finding plus what resolvers and URL parsers also read as metadata.
DENIED_HOSTS = [
    "169.254.169.254",
    "[::ffff:169.254.169.254]",
    "[::ffff:a9fe:a9fe]",
    "0xa9fea9fe",
    "2852039166",
    "0251.0376.0251.0376",
    "169.254.43518",
    "[64:ff9b::a9fe:a9fe]",
    "[fd00:ec2::254]",
    "100.100.100.200",
    "metadata.google.internal",
    "metadata.google.internal.",
    "169.254.10.1",  # link-local
    "[fe80::1]",
    "0.0.0.0",
    "[::]",
    "0",
]
# Loopback in every spelling, refused once a deployment turns loopback off.
LOOPBACK_HOSTS = [
    "127.0.0.1",
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "127.1",
    "localhost",
    "[::1]",
    "[::ffff:127.0.0.1]",
]


def api_data(upstream_url: str) -> dict:
    n = next(_numbers)
    return {"name": f"Api {n}", "base_path": f"/api-{n}/v1", "upstream_url": upstream_url}


def server_data(**fields) -> dict:
    n = next(_numbers)
    return {
        "name": f"IdP {n}",
        "kind": "external",
        "issuer": f"https://idp{n}.example.com",
    } | fields


@pytest.mark.parametrize("host", DENIED_HOSTS)
def test_an_upstream_at_a_denied_address_is_refused(staff_client, host):
    response = staff_client.post("/api/v1/apis/", api_data(f"https://{host}/latest/meta-data/"))
    assert_field_errors(response, {"upstream_url"})
    assert "The upstream URL must not point at" in response.json()["errors"]["upstream_url"][0]
    assert not Api.objects.exists()


@pytest.mark.parametrize("field", ["issuer", "discovery_url", "jwks_uri"])
@pytest.mark.parametrize("host", DENIED_HOSTS)
def test_an_authorization_server_url_at_a_denied_address_is_refused(staff_client, field, host):
    response = staff_client.post(
        "/api/v1/authorization-servers/", server_data(**{field: f"https://{host}/keys"})
    )
    assert_field_errors(response, {field})
    assert "must not point at" in " ".join(response.json()["errors"][field])
    assert not AuthorizationServer.objects.exists()


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_with_loopback_off_every_loopback_spelling_is_refused(staff_client, settings, host):
    settings.GATEWAY_OUTBOUND_ALLOW_LOOPBACK = False
    upstream = staff_client.post("/api/v1/apis/", api_data(f"http://{host}:9000/"))
    assert_field_errors(upstream, {"upstream_url"})
    assert "GATEWAY_OUTBOUND_ALLOW_LOOPBACK is off" in upstream.json()["errors"]["upstream_url"][0]
    server = staff_client.post(
        "/api/v1/authorization-servers/", server_data(issuer=f"http://{host}:9000")
    )
    assert_field_errors(server, {"issuer"})


def test_loopback_and_private_upstreams_are_allowed_by_default(staff_client):
    for upstream in ("http://127.0.0.1:9000/", "http://10.0.0.8:8080/", "https://[fd00::8]/"):
        assert staff_client.post("/api/v1/apis/", api_data(upstream)).status_code == 201
    loopback_idp = server_data(issuer="http://127.0.0.1:9000/realms/dev")
    assert staff_client.post("/api/v1/authorization-servers/", loopback_idp).status_code == 201


def test_private_ranges_and_listed_hosts_can_be_denied(staff_client, settings):
    settings.GATEWAY_OUTBOUND_ALLOW_PRIVATE = False
    settings.GATEWAY_OUTBOUND_DENY = ["*.corp.example", "203.0.113.0/24"]
    for upstream in ("http://10.0.0.8:8080/", "https://idp.corp.example/", "https://203.0.113.9/"):
        assert_field_errors(
            staff_client.post("/api/v1/apis/", api_data(upstream)), {"upstream_url"}
        )


def test_an_internal_issuer_is_the_gateway_itself_and_never_fetched(staff_client, settings):
    """Its issuer is the URL clients reach this gateway at, so the outbound policy is moot."""
    settings.GATEWAY_OUTBOUND_ALLOW_LOOPBACK = False
    data = server_data(kind="internal", issuer="http://127.0.0.1:8000")
    assert staff_client.post("/api/v1/authorization-servers/", data).status_code == 201


@pytest.mark.parametrize(
    "upstream",
    [
        "http://127.0.0.1:8000/gateway/orders/v1",  # the public listener: a loop
        "http://localhost:8000",
        "http://127.0.0.1:8001/api/v1",  # the admin listener, through an anonymous route
        "http://0x7f000001:8001/admin/",
    ],
)
def test_an_upstream_at_the_gateways_own_listeners_is_refused(staff_client, settings, upstream):
    settings.GATEWAY_PUBLIC_BIND = "127.0.0.1:8000"
    settings.GATEWAY_ADMIN_BIND = "127.0.0.1:8001"
    response = staff_client.post("/api/v1/apis/", api_data(upstream))
    assert_field_errors(response, {"upstream_url"})
    assert "loop back into the gateway" in response.json()["errors"]["upstream_url"][0]


def test_an_upstream_stored_before_the_policy_cannot_be_activated(staff_client):
    api = Api.objects.create(**api_data("https://169.254.169.254/latest/meta-data/"))
    response = staff_client.post(f"/api/v1/apis/{api.pk}/activate/")
    assert response.status_code == 400
    assert any("169.254.169.254" in problem for problem in response.json()["problems"])


def test_an_openapi_import_naming_a_metadata_server_is_refused(staff_client):
    document = {
        "openapi": "3.0.3",
        "info": {"title": "Meta", "version": "1"},
        "servers": [{"url": "http://[::ffff:169.254.169.254]/latest"}],
        "paths": {"/meta-data": {"get": {"responses": {"200": {"description": "ok"}}}}},
    }
    response = staff_client.post("/api/v1/apis/import-openapi/", {"document": document})
    assert response.status_code == 400
    assert "metadata" in str(response.json())
    assert not Api.objects.exists()
