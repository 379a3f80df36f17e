"""Every admin-API error is problem details (RFC 9457) with a stable code, a detail that
says what to do, and the request id, which is also the X-Request-Id header."""

import json
import re

import pytest
from django.db import OperationalError
from rest_framework.exceptions import Throttled
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from apis.models import Api
from rest_api.viewsets import AdminAPIMixin
from tests.rest_api.crud import assert_field_errors, assert_problem

HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_a_validation_error_lists_messages_and_codes_per_field(staff_client):
    response = staff_client.post(
        "/api/v1/apis/", {"name": "", "base_path": "/x", "upstream_url": "ftp://x"}, format="json"
    )
    assert_field_errors(response, {"name", "upstream_url"})
    body = response.json()
    assert body["title"] == "Bad Request"
    assert body["errors"]["name"] == ["This field may not be blank."]
    assert body["error_codes"] == {"name": ["blank"], "upstream_url": ["invalid"]}
    assert body["detail"] == (
        "2 invalid fields (name, upstream_url): name: This field may not be blank. "
        "Every message is in `errors`; fix them and retry."
    )


def test_unreadable_json_is_a_parse_error_problem(staff_client):
    response = staff_client.generic("POST", "/api/v1/apis/", "{nope", "application/json")
    body = assert_problem(response, 400, "parse_error")
    assert body["detail"].startswith("JSON parse error")
    assert body["detail"].endswith("Send a well-formed JSON document.")
    assert "errors" not in body


def test_bad_credentials_and_missing_staff_rights_say_what_to_do(anon_client, member_client):
    body = assert_problem(anon_client.get("/api/v1/apis/"), 401, "not_authenticated")
    assert "Send `Authorization: Token <key>`" in body["detail"]
    body = assert_problem(member_client.get("/api/v1/apis/"), 403, "permission_denied")
    assert "staff" in body["detail"]


def test_missing_objects_and_pages_are_404_problems(staff_client):
    body = assert_problem(staff_client.get("/api/v1/apis/424242/"), 404, "not_found")
    assert body["detail"].startswith("No Api matches the given query.")
    body = assert_problem(staff_client.get("/api/v1/apis/?page=9"), 404, "page_not_found")
    assert body["detail"].startswith("Page 9 does not exist: there is 1 page of 50")


def test_a_wrong_method_is_a_405_problem_with_allow(staff_client):
    response = staff_client.put("/api/v1/apis/", {}, format="json")
    body = assert_problem(response, 405, "method_not_allowed")
    assert body["detail"] == (
        'Method "PUT" not allowed. Use one of the methods listed in the Allow header.'
    )
    assert response["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_a_client_request_id_is_reused_when_safe(staff_client):
    response = staff_client.get("/api/v1/apis/9/", HTTP_X_REQUEST_ID="trace-7f:abc.1")
    assert assert_problem(response, 404, "not_found")["request_id"] == "trace-7f:abc.1"
    assert response["X-Request-Id"] == "trace-7f:abc.1"


@pytest.mark.parametrize("unsafe", ["a b", "x" * 129, "<script>", "id\r\nX-Admin: 1"])
def test_an_unsafe_request_id_is_replaced(staff_client, unsafe):
    body = assert_problem(
        staff_client.get("/api/v1/apis/9/", HTTP_X_REQUEST_ID=unsafe), 404, "not_found"
    )
    assert HEX_ID.fullmatch(body["request_id"])


def test_successful_responses_carry_a_request_id_too(staff_client):
    response = staff_client.get("/api/v1/apis/")
    assert response.status_code == 200
    assert HEX_ID.fullmatch(response["X-Request-Id"])
    assert staff_client.get("/api/v1/apis/", HTTP_X_REQUEST_ID="abc")["X-Request-Id"] == "abc"


class _Failing(AdminAPIMixin, APIView):
    """A view that fails in the ways no endpoint can be made to fail on demand."""

    failure: Exception = RuntimeError()
    permission_classes = []  # error rendering under test, not roles (tests/rest_api/test_roles.py)

    def get(self, request):
        raise self.failure


def _call(failure: Exception):
    request = APIRequestFactory().get("/api/v1/failing/", HTTP_X_REQUEST_ID="req-1")
    force_authenticate(request, user=type("Staff", (), {"is_staff": True, "is_active": True})())
    response = _Failing.as_view(failure=failure)(request)
    return response, json.loads(response.content)


def test_throttling_is_a_429_problem_with_retry_after(db):
    response, body = _call(Throttled(wait=7))
    assert (response.status_code, body["code"]) == (429, "throttled")
    assert response["Retry-After"] == "7"
    assert body["detail"].endswith(
        "Wait the number of seconds in the Retry-After header, then retry."
    )


def test_an_unexpected_error_is_a_500_problem_without_internals(db, caplog):
    response, body = _call(RuntimeError("secret internals at /srv/app.py"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert (body["code"], body["request_id"]) == ("internal_error", "req-1")
    assert "secret" not in response.content.decode() and "Traceback" not in body["detail"]
    assert "quote the request id" in body["detail"]
    assert "req-1" in caplog.text  # the log line an operator finds by the request id


def test_a_database_outage_is_a_503_problem_with_retry_after(db):
    response, body = _call(OperationalError("connection refused"))
    assert (response.status_code, body["code"]) == (503, "database_unavailable")
    assert response["Retry-After"] == "30"
    assert "connection refused" not in response.content.decode()


def test_a_deadlock_with_a_concurrent_write_is_a_409_to_retry_not_an_outage(db):
    """An edit deadlocking with a config apply was rolled back whole: retry it (409), the
    database is not down (no 503)."""
    import psycopg

    deadlock = OperationalError("deadlock detected")
    deadlock.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    response, body = _call(deadlock)
    assert (response.status_code, body["code"]) == (409, "conflict")
    assert "Retry-After" not in response


def test_an_integrity_race_is_a_409_problem(staff_client, monkeypatch):
    from django.db import IntegrityError

    def lose_the_race(*args, **kwargs):
        raise IntegrityError("UNIQUE constraint failed: apis_api.base_path")

    monkeypatch.setattr(Api, "save", lose_the_race)
    data = {"name": "a", "base_path": "/a", "upstream_url": "https://a.example"}
    body = assert_problem(staff_client.post("/api/v1/apis/", data, format="json"), 409, "conflict")
    assert "retry" in body["detail"]


def test_the_schema_documents_every_error_as_a_problem(staff_client):
    document = staff_client.get("/api/v1/schema/?format=json").json()
    problem = document["components"]["schemas"]["ProblemDetails"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code", "request_id"}
    invalid = document["components"]["schemas"]["ValidationProblem"]["properties"]
    assert {"errors", "error_codes"} <= set(invalid)
    errors_seen = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if code[0] in "45":
                    errors_seen += 1
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        code,
                    )
    assert errors_seen > 100
    create = document["paths"]["/api/v1/apis/"]["post"]["responses"]
    assert create["400"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationProblem"
    }
    refresh = document["paths"]["/api/v1/authorization-servers/{id}/refresh-jwks/"]["post"]
    assert "502" in refresh["responses"]
    assert "415" in create and "401" in create
