"""Malformed or hostile input is a 4xx problem+json, never a 500 or an HTML page."""

import json

import pytest

from apis.models import Api
from tests.rest_api.crud import assert_field_errors, assert_problem

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "body",
    [
        DEEP,
        json.dumps({"document": DEEP}),
        json.dumps({"document": "[" * 5_000 + "]" * 5_000 + "\n# not JSON, so read as YAML"}),
        json.dumps({"name": "a", "identifying_claims": json.loads("[" * 500 + "]" * 500)}),
        "{not json",
    ],
)
def test_deeply_nested_or_broken_json_is_a_400(staff_client, body):
    for path in ["/api/v1/apis/import-openapi/", "/api/v1/applications/"]:
        response = staff_client.generic("POST", path, body, "application/json")
        assert response.status_code == 400, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] in {"parse_error", "validation_failed"}
    assert not Api.objects.exists()


def test_an_oversized_body_is_a_json_413(staff_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = staff_client.post("/api/v1/apis/import-openapi/", {"document": "x" * 2000})
    body = assert_problem(response, 413, "payload_too_large")
    assert body["detail"] == "The request body is larger than 1000 bytes; send a smaller one."


@pytest.mark.parametrize(
    "claims",
    [{"client_id": "a\x00b"}, {"client_id": "a\ud800b"}, {"client\x00id": "a"}],
)
def test_text_no_database_can_store_is_refused(staff_client, claims):
    body = json.dumps({"name": "a", "identifying_claims": claims})
    response = staff_client.generic("POST", "/api/v1/applications/", body, "application/json")
    assert_field_errors(response, {"identifying_claims"})


def test_nul_in_a_search_or_filter_is_a_field_error_not_a_database_error(staff_client):
    response = staff_client.get("/api/v1/apis/", {"search": "a\x00b"})
    assert_field_errors(response, {"search"})
    assert response.json()["errors"] == {"search": ["Null characters are not allowed."]}
    response = staff_client.get("/api/v1/apis/", {"name": "a\x00"})
    assert_field_errors(response, {"name"})
    assert list(response.json()["errors"]) == ["name"]


def test_out_of_range_ids_are_4xx(staff_client):
    huge = 2**70
    assert_problem(staff_client.get(f"/api/v1/apis/{huge}/"), 404, "not_found")
    assert_field_errors(staff_client.get("/api/v1/applications/", {"apis": huge}), {"apis"})
    response = staff_client.post("/api/v1/applications/", {"name": "a", "apis": [huge]})
    assert_field_errors(response, {"apis"})
