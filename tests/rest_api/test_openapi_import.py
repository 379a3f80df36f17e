"""Importing OpenAPI documents: the public Swagger Petstore (committed in fixtures/) and
small OpenAPI 3 documents written here for the cases the Petstore does not have."""

import json
from pathlib import Path

import pytest
import yaml

from apis.models import Api, Route
from core.models import AuditEvent
from tests.rest_api.crud import assert_field_errors, assert_problem

URL = "/api/v1/apis/import-openapi/"
PETSTORE = (Path(__file__).parent / "fixtures" / "petstore.swagger.yaml").read_text()


def routes_of(api_id: int) -> dict[str, list[str]]:
    return {f"{r.method} {r.path}": r.required_scopes for r in Route.objects.filter(api_id=api_id)}


def test_it_imports_the_swagger_petstore_yaml_as_an_inactive_api(staff_client, staff_user):
    response = staff_client.post(URL, {"document": PETSTORE})
    assert response.status_code == 201, response.content
    body = response.json()
    api = body["api"]
    assert api["name"] == "Swagger Petstore"
    assert api["version"] == "1.0.0"
    assert api["base_path"] == "/swagger-petstore/1.0.0"
    assert api["upstream_url"] == "https://petstore.swagger.io/v2"
    assert api["status"] == "inactive"
    assert api["description"].startswith("This is a sample server Petstore server.")

    routes = routes_of(api["id"])
    assert len(routes) == len(body["routes"]) == 20
    both = ["read:pets", "write:pets"]
    assert routes["POST /pet"] == both
    assert routes["PUT /pet"] == both
    assert routes["GET /pet/findByStatus"] == both
    assert routes["DELETE /pet/{petId}"] == both
    assert routes["POST /pet/{petId}/uploadImage"] == both
    assert routes["GET /pet/{petId}"] == []  # api_key only: no OAuth2 scopes to enforce
    assert routes["GET /store/inventory"] == []
    assert routes["GET /user/{username}"] == []
    assert not Route.objects.filter(anonymous=True).exists()
    assert body["warnings"] == []

    event = AuditEvent.objects.get(action="import-openapi")
    assert event.actor == staff_user
    assert event.object_id == str(api["id"])
    assert "POST /pet" in event.after["routes"]


def test_the_same_document_as_json_with_overrides(staff_client):
    document = json.dumps(yaml.safe_load(PETSTORE))
    payload = {
        "document": document,
        "name": "Pets",
        "base_path": "pets/v2/",
        "upstream_url": "https://pets.internal.example",
    }
    body = staff_client.post(URL, payload).json()
    assert body["api"]["name"] == "Pets"
    assert body["api"]["base_path"] == "/pets/v2"
    assert body["api"]["upstream_url"] == "https://pets.internal.example"
    assert len(body["routes"]) == 20


def test_a_document_may_be_sent_as_a_json_object(staff_client):
    response = staff_client.post(URL, {"document": yaml.safe_load(PETSTORE)})
    assert response.status_code == 201
    assert Api.objects.get().routes.count() == 20


OPENAPI3 = {
    "openapi": "3.1.0",
    "info": {"title": "Orders", "version": "2024-01"},
    "servers": [
        {
            "url": "{scheme}://orders.example.com/{base}",
            "variables": {"scheme": {"default": "https"}, "base": {"default": "api"}},
        },
    ],
    "components": {
        "securitySchemes": {
            "oauth": {"type": "oauth2", "flows": {}},
            "oidc": {"type": "openIdConnect", "openIdConnectUrl": "https://x"},
            "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
        }
    },
    "security": [{"oauth": ["orders:read"]}],
    "paths": {
        "/orders": {
            "get": {},
            "post": {"security": [{"oidc": ["orders:write", "orders:read"]}]},
            "trace": {},
        },
        "/orders/{order-id}": {
            "get": {"security": [{"oauth": ["orders:read", "x"]}, {"oidc": ["orders:read"]}]},
            "delete": {"security": []},
        },
        "/orders/{id}": {"get": {}},
        "/files/{name}.json": {"get": {"security": [{"key": []}]}},
        "/bad/{a}/{a}": {"get": {}},
    },
}


def test_it_maps_an_openapi_3_document(staff_client):
    response = staff_client.post(URL, {"document": json.dumps(OPENAPI3)})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["api"]["upstream_url"] == "https://orders.example.com/api"
    assert body["api"]["base_path"] == "/orders/2024-01"
    assert routes_of(body["api"]["id"]) == {
        "GET /orders": ["orders:read"],
        "POST /orders": ["orders:read", "orders:write"],
        "GET /orders/{order_id}": ["orders:read"],
        "DELETE /orders/{order_id}": [],
        "GET /files/{name}": [],
    }
    warnings = "\n".join(body["warnings"])
    assert "GET /orders/{order-id}: alternative security requirements" in warnings
    assert "DELETE /orders/{order-id}: the document marks it public" in warnings
    assert "GET /orders/{id}: skipped, same route as GET /orders/{order-id}" in warnings
    assert "/files/{name}.json: the segment" in warnings
    assert "/bad/{a}/{a}: skipped" in warnings


def test_a_relative_server_url_needs_an_upstream(staff_client):
    document = {**OPENAPI3, "servers": [{"url": "/v3"}]}
    assert_field_errors(staff_client.post(URL, {"document": document}), {"upstream_url"})
    with_upstream = {"document": document, "upstream_url": "https://orders.example.com/v3"}
    assert staff_client.post(URL, with_upstream).status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "document"),
        ({"document": ""}, "document"),
        ({"document": "just: [unbalanced"}, "document"),
        ({"document": "- a list\n- not an object\n"}, "document"),
        ({"document": {"openapi": "3.0.0", "paths": {}}}, "document"),
        ({"document": {"swagger": "1.2", "paths": {"/a": {"get": {}}}}}, "document"),
        ({"document": ["not", "a", "document"]}, "document"),
        ({"document": 42}, "document"),
        ({"document": PETSTORE, "upstream_url": "ftp://x"}, "upstream_url"),
        ({"document": PETSTORE, "base_path": "/a/../b"}, "base_path"),
    ],
)
def test_invalid_imports_are_field_errors_and_write_nothing(staff_client, payload, field):
    assert_field_errors(staff_client.post(URL, payload), {field})
    assert not Api.objects.exists()
    assert not Route.objects.exists()


def test_an_import_that_overlaps_an_existing_base_path_is_refused(staff_client):
    assert staff_client.post(URL, {"document": PETSTORE}).status_code == 201
    response = staff_client.post(URL, {"document": PETSTORE})
    assert_field_errors(response, {"base_path"})
    assert Api.objects.count() == 1
    assert Route.objects.count() == 20


def test_importing_the_same_document_twice_names_the_api_already_there(staff_client):
    assert staff_client.post(URL, {"document": PETSTORE}).status_code == 201
    response = staff_client.post(URL, {"document": PETSTORE})
    assert response.json()["error_codes"] == {"base_path": ["base_path_taken"]}
    assert response.json()["errors"]["base_path"][0].startswith(
        "An API is already published at /swagger-petstore/1.0.0 (Swagger Petstore 1.0.0)."
    )


# --- cost of large documents (issue 12) ------------------------------------------------


def test_yaml_is_parsed_with_the_c_loader(staff_client, monkeypatch):
    """libyaml's loader: a 2 MB document took 8 s of CPU with the pure-Python one."""
    assert yaml.__with_libyaml__  # PyYAML wheels ship it; the fallback is SafeLoader
    loaders = []
    real_load = yaml.load

    def spy(stream, Loader):
        loaders.append(Loader)
        return real_load(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "load", spy)
    assert staff_client.post(URL, {"document": PETSTORE}).status_code == 201
    assert loaders == [yaml.CSafeLoader]


def test_the_c_loader_refuses_deep_nesting_with_a_field_error(staff_client):
    deep = "a: " + "[" * 5_000 + "]" * 5_000 + "\n"
    response = staff_client.post(URL, {"document": deep})
    assert_field_errors(response, {"document"})
    assert response.json()["errors"]["document"] == ["The document is nested too deeply."]


def test_a_document_over_the_limit_is_a_413_problem(staff_client, settings):
    settings.GATEWAY_OPENAPI_MAX_BYTES = 64 * 1024
    document = PETSTORE + "\n# padding\n" * 8000  # about 100 KB of valid YAML
    response = staff_client.post(URL, {"document": document})
    body = assert_problem(response, 413, "document_too_large")
    assert body["detail"].startswith(f"The document ({len(document.encode()):,} bytes) is larger")
    assert "import limit of 64 KiB (GATEWAY_OPENAPI_MAX_BYTES)" in body["detail"]
    assert not Api.objects.exists()


def test_a_document_object_over_the_limit_is_a_413_problem(staff_client, settings):
    settings.GATEWAY_OPENAPI_MAX_BYTES = 4 * 1024
    document = {**yaml.safe_load(PETSTORE), "x-padding": "p" * 5000}
    response = staff_client.post(URL, {"document": document})
    assert_problem(response, 413, "document_too_large")


def test_a_huge_body_is_refused_before_it_is_parsed(staff_client, settings, monkeypatch):
    settings.GATEWAY_OPENAPI_MAX_BYTES = 1024
    monkeypatch.setattr(yaml, "load", None)  # parsing anything would now fail loudly
    body = json.dumps({"document": "openapi: 3.0.0\n" + "#" * 200_000})
    response = staff_client.generic("POST", URL, body, "application/json")
    assert_problem(response, 413, "document_too_large")


def test_the_default_limit_is_one_mebibyte(settings):
    assert settings.GATEWAY_OPENAPI_MAX_BYTES == 1024 * 1024
