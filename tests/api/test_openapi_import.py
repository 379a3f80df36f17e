"""Importing OpenAPI documents: the public Swagger Petstore (committed in fixtures/) and
small OpenAPI 3 documents written here for the cases the Petstore does not have."""

import json
from pathlib import Path

import pytest
import yaml

from apis.models import Api, Route
from gateway_admin.models import AuditEvent

from .crud import assert_field_errors

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
