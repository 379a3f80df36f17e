"""Admin-API keys work as `Token <key>` and as `Bearer <key>`; anything else is a 401
problem that says which header to send."""

import pytest

from tests.rest_api.conftest import json_client
from tests.rest_api.crud import assert_problem


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "bearer", "BEARER", "token"])
def test_the_key_is_accepted_with_either_scheme_name(staff_token, scheme):
    client = json_client(HTTP_AUTHORIZATION=f"{scheme} {staff_token}")
    assert client.get("/api/v1/apis/").status_code == 200


def test_bearer_keys_can_write_too(staff_token):
    client = json_client(HTTP_AUTHORIZATION=f"Bearer {staff_token}")
    data = {"name": "a", "base_path": "/a", "upstream_url": "https://a.example"}
    assert client.post("/api/v1/apis/", data, format="json").status_code == 201


def test_a_wrong_bearer_key_is_refused_with_the_way_to_get_one(db):
    client = json_client(HTTP_AUTHORIZATION="Bearer 0123456789abcdef")
    body = assert_problem(client.get("/api/v1/apis/"), 401, "authentication_failed")
    assert body["detail"].startswith("Invalid token.")
    assert "manage.py drf_create_token <username>" in body["detail"]


def test_a_jwt_is_recognised_as_the_wrong_kind_of_token(db):
    client = json_client(HTTP_AUTHORIZATION="Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")
    body = assert_problem(client.get("/api/v1/apis/"), 401, "authentication_failed")
    assert body["detail"].startswith("This is a JWT, not an admin-API key")


@pytest.mark.parametrize("header", ["Bearer", "Token "])
def test_a_scheme_without_a_key_is_refused(db, header):
    body = assert_problem(
        json_client(HTTP_AUTHORIZATION=header).get("/api/v1/apis/"), 401, "authentication_failed"
    )
    assert "no key" in body["detail"]


def test_another_scheme_is_named_in_the_answer(db):
    client = json_client(HTTP_AUTHORIZATION="Basic YWRhOnB3")
    response = client.get("/api/v1/apis/")
    body = assert_problem(response, 401, "not_authenticated")
    assert body["detail"].startswith("The Authorization scheme 'Basic' is not accepted here.")
    assert "Authorization: Token <key>" in body["detail"]
    assert response["WWW-Authenticate"] == "Token"


def test_the_schema_names_both_spellings(staff_client):
    schemes = staff_client.get("/api/v1/schema/?format=json").json()["components"]
    scheme = schemes["securitySchemes"]["tokenAuth"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert "Bearer <key>" in scheme["description"]
