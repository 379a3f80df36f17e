"""Property-based fuzzing of the admin API from its own OpenAPI schema (schemathesis).

Every operation gets generated valid and invalid requests over real HTTP, as a
staff user. Whatever is sent, the API must not answer 5xx, and each answer must
conform to the schema: a documented status code, content type and body.
"""

import json
from types import SimpleNamespace

import pytest
import schemathesis
from django.urls import resolve
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIRequestFactory, force_authenticate
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.roles import Role
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from authservers.models import AuthorizationServer
from tests.personas import staff_member

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Bounded so the whole run stays well under a minute on CI.
MAX_EXAMPLES = 20


@pytest.fixture
def staff_token(transactional_db) -> str:
    # An administrator: a staff user without a role would only ever get 403s.
    return Token.objects.create(user=staff_member("fuzz", Role.ADMINISTRATOR)).key


def load_schema():
    """The schema exactly as /api/v1/schema/ serves it to staff (in-process at collection).

    The view is staff only; collection has no database for a real user, so the request
    is authenticated as a stand-in staff user.
    """
    request = APIRequestFactory().get("/api/v1/schema/", {"format": "json"})
    force_authenticate(request, user=SimpleNamespace(is_staff=True, is_authenticated=True))
    response = resolve("/api/v1/schema/").func(request)
    response.render()
    assert response.status_code == 200, response.content
    config = SchemathesisConfig.from_dict(
        {
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "phases": {"stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_dict(json.loads(response.content), config=config)


# schemathesis.pytest.from_fixture() would fetch it over HTTP from the running gateway,
# but its lazy loader is broken under pytest 9 (it sets the removed Node._nodeid).
schema = load_schema()


@pytest.fixture
def seeded(transactional_db) -> None:
    """Objects for generated ids to hit, so detail endpoints do more than answer 404."""
    server = AuthorizationServer.objects.create(name="IdP", issuer="https://idp.example.com")
    api = Api.objects.create(name="A", base_path="/a", upstream_url="https://a.example")
    Route.objects.create(api=api, method="GET", path="/x")
    IdentifyAndAuthorizePolicy.objects.create(api=api, audiences=["a"]).authorization_servers.add(
        server
    )


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_admin_api_never_fails_and_matches_its_schema(case, gateway, seeded, staff_token):
    response = case.call_and_validate(
        base_url=gateway.admin_url, headers={"Authorization": f"Token {staff_token}"}, checks=CHECKS
    )
    assert response.status_code < 500
