"""The REST contract (issue 20): what /api/v1/schema/ promises, and that the API keeps it.

Every operation has a summary, its own description and a meaningful, unique operationId;
every error response references the one problem model; 405/406 everywhere and 415 on
every JSON body are declared; bodies are typed; `ordering` and `page_size` are validated
and documented as such.
"""

import pytest

from apis.models import Api
from rest_api.apis.views import ApiViewSet, RouteViewSet
from rest_api.applications.views import ApplicationViewSet
from rest_api.authservers.views import AuthorizationServerViewSet
from rest_api.traffic.views import ApplicationLimitViewSet, ApplicationUsageView, LimitPolicyViewSet
from rest_api.views import AuditEventViewSet, TokenInspectorView
from tests.rest_api.crud import assert_field_errors, assert_problem

PROBLEM = "#/components/schemas/ProblemDetails"
VALIDATION = "#/components/schemas/ValidationProblem"
METHODS = {"get", "post", "put", "patch", "delete"}
LISTS = {
    "/api/v1/apis/": ApiViewSet,
    "/api/v1/apis/{api_pk}/routes/": RouteViewSet,
    "/api/v1/applications/": ApplicationViewSet,
    "/api/v1/authorization-servers/": AuthorizationServerViewSet,
    "/api/v1/audit-events/": AuditEventViewSet,
    "/api/v1/limit-policies/": LimitPolicyViewSet,
    "/api/v1/application-limits/": ApplicationLimitViewSet,
}
VIEWS = [*LISTS.values(), TokenInspectorView, ApplicationUsageView]


@pytest.fixture
def document(staff_client) -> dict:
    response = staff_client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_every_operation_has_a_summary_its_own_description_and_a_unique_id(document):
    viewset_docs = {view.__doc__.strip() for view in VIEWS}
    ids = []
    for path, method, operation in operations(document):
        where = (method, path)
        assert operation.get("summary"), where
        assert operation.get("description"), where
        assert operation["description"].strip() not in viewset_docs, where
        assert operation["operationId"][0].islower() and "_" not in operation["operationId"]
        ids.append(operation["operationId"])
    assert len(ids) == len(set(ids)), sorted(ids)
    descriptions = [op["description"] for _, _, op in operations(document)]
    assert len(descriptions) == len(set(descriptions))
    assert {
        "listApis",
        "createApi",
        "getApi",
        "updateApi",
        "deleteApi",
        "activateApi",
        "deactivateApi",
        "importOpenApi",
        "getApiPolicy",
        "putApiPolicy",
        "listApiRoutes",
        "createApiRoute",
        "createApplication",
        "rotateApplicationSecret",
        "createAuthorizationServer",
        "refreshAuthorizationServerKeys",
        "rotateSigningKey",
        "revokeSigningKey",
        "listAuditEvents",
        "inspectToken",
    } <= set(ids)


def test_every_error_references_the_shared_problem_model(document):
    schemas = document["components"]["schemas"]
    problem = schemas["ProblemDetails"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "code", "request_id"}
    assert set(problem["properties"]) <= set(schemas["ValidationProblem"]["properties"])
    for path, method, operation in operations(document):
        for code, response in operation["responses"].items():
            if code[0] not in "45":
                continue
            where = (method, path, code)
            assert response["description"], where
            assert list(response["content"]) == ["application/problem+json"], where
            schema = response["content"]["application/problem+json"]["schema"]
            assert list(schema) == ["$ref"], where  # never an inline object
            model = schemas[schema["$ref"].rsplit("/", 1)[1]]
            # ProblemDetails itself, or a problem that adds members of its own.
            assert set(problem["required"]) <= set(model["required"]), where
            if code == "400" and "requestBody" in operation:
                assert schema["$ref"] == VALIDATION, where


def test_405_406_and_415_are_declared(document):
    for path, method, operation in operations(document):
        responses = operation["responses"]
        assert {"401", "403", "405", "406", "503"} <= set(responses), (method, path)
        if "requestBody" in operation:
            assert list(operation["requestBody"]["content"]) == ["application/json"]
            assert {"400", "409", "413", "415"} <= set(responses), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)


def test_bodies_are_typed_and_named(document):
    schemas = document["components"]["schemas"]
    for name in ("before", "after"):
        snapshot = schemas["AuditEvent"]["properties"][name]
        assert snapshot["type"] == "object" and snapshot["nullable"] is True
        assert "additionalProperties" in snapshot
    create = document["paths"]["/api/v1/applications/"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ApplicationCreateRequest"
    }
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ApplicationCreated"
    }
    assert not [name for name in schemas if name.endswith("CreatedRequest")]
    assert {
        "ApiKindEnum",
        "ApiStatusEnum",
        "ApplicationStatusEnum",
        "RouteMethodEnum",
        "CallMethodEnum",
        "ServerKindEnum",
        "JwsAlgorithmEnum",
    } <= set(schemas)
    # Every request component is named <Response>Request, as COMPONENT_SPLIT_REQUEST does.
    for path, method, operation in operations(document):
        body = operation.get("requestBody")
        if body:
            ref = body["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("Request"), (method, path, ref)


def test_list_operations_document_ordering_and_page_size(document):
    lists = [
        (path, operation)
        for path, method, operation in operations(document)
        if operation["operationId"].startswith("list")
    ]
    assert {path for path, _ in lists} == set(LISTS)
    for path, operation in lists:
        parameters = {p["name"]: p for p in operation["parameters"]}
        ordering = parameters["ordering"]["schema"]
        assert ordering["type"] == "array", path
        fields = LISTS[path].ordering_fields
        assert sorted(ordering["items"]["enum"]) == sorted([*fields, *(f"-{f}" for f in fields)])
        assert parameters["page_size"]["schema"] == {
            "type": "integer",
            "minimum": 1,
            "maximum": 500,
            "default": 50,
        }
        assert parameters["page"]["schema"]["minimum"] == 1
        assert {"400", "404"} <= set(operation["responses"])


def _apis(count: int) -> None:
    for n in range(count):
        Api.objects.create(name=f"api-{n}", base_path=f"/api-{n}", upstream_url="https://u.example")


def test_an_unknown_ordering_is_a_400_naming_the_allowed_values(staff_client):
    _apis(2)
    response = staff_client.get("/api/v1/apis/?ordering=name,secret_field")
    assert_field_errors(response, {"ordering"})
    message = response.json()["errors"]["ordering"][0]
    assert "'secret_field'" in message and "-base_path" in message and "updated_at" in message
    assert_field_errors(staff_client.get("/api/v1/apis/?ordering=-"), {"ordering"})
    names = [
        api["name"] for api in staff_client.get("/api/v1/apis/?ordering=-name").json()["results"]
    ]
    assert names == ["api-1", "api-0"]
    assert staff_client.get("/api/v1/audit-events/?ordering=-created_at,id").status_code == 200


@pytest.mark.parametrize("size", ["0", "-1", "abc", "1.5", "501", ""])
def test_an_invalid_page_size_is_a_400(staff_client, size):
    response = staff_client.get(f"/api/v1/apis/?page_size={size}")
    assert_field_errors(response, {"page_size"})


@pytest.mark.parametrize("page", ["0", "-2", "x"])
def test_an_invalid_page_number_is_a_400(staff_client, page):
    assert_field_errors(staff_client.get(f"/api/v1/apis/?page={page}"), {"page"})


def test_page_size_pages_and_a_page_past_the_last_is_page_not_found(staff_client):
    _apis(3)
    body = staff_client.get("/api/v1/apis/?page_size=2&ordering=name").json()
    assert (body["count"], len(body["results"])) == (3, 2)
    assert "page=2" in body["next"] and "page_size=2" in body["next"]
    second = staff_client.get("/api/v1/apis/?page_size=2&page=2&ordering=name").json()
    assert [api["name"] for api in second["results"]] == ["api-2"]
    assert len(staff_client.get("/api/v1/apis/?page_size=500").json()["results"]) == 3
    problem = assert_problem(
        staff_client.get("/api/v1/apis/?page_size=2&page=3"), 404, "page_not_found"
    )
    assert problem["detail"].startswith("Page 3 does not exist: there are 2 pages of 2")


def test_a_body_that_is_not_json_is_a_415_problem(staff_client):
    response = staff_client.generic("POST", "/api/v1/apis/", "name=x", "text/plain")
    assert_problem(response, 415, "unsupported_media_type")


def test_an_accept_header_without_json_is_a_406_problem(staff_client):
    response = staff_client.get("/api/v1/apis/", HTTP_ACCEPT="application/xml")
    assert_problem(response, 406, "not_acceptable")


def test_filter_parameters_reference_the_named_enums(document):
    apis = {p["name"]: p for p in document["paths"]["/api/v1/apis/"]["get"]["parameters"]}
    assert apis["status"]["schema"] == {"$ref": "#/components/schemas/ApiStatusEnum"}
    assert apis["kind"]["schema"] == {"$ref": "#/components/schemas/ApiKindEnum"}
    for path, method, operation in operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["name"] != "ordering":
                assert "enum" not in parameter["schema"], (method, path, parameter["name"])


def test_the_operation_table_and_the_schema_match_one_to_one(document):
    from rest_api.schema import OPERATIONS

    table = {(op.id, op.summary, op.description) for op in OPERATIONS.values()}
    schema = {
        (op["operationId"], op["summary"], op["description"]) for _, _, op in operations(document)
    }
    assert schema == table  # no operation without an entry, no entry without an operation
