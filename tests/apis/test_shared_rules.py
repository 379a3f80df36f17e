"""Rules with one home in apis/, and proof that the console, the REST API and the proxy agree.

- the example path of a route template (apis/paths.example_path) is a path the
  proxy's router matches to that very route;
- the token location (apis/token_location.TokenLocation): the token the console's
  curl example and the inspector's synthetic request carry is the token the proxy reads;
- the inspected call (path pattern, methods) is validated alike by the console
  form and the REST serializer;
- the editable fields of each resource are the same in the console form and the
  REST serializer.
"""

import shlex
from itertools import pairwise
from urllib.parse import urlsplit

import pytest

from apis.choices import CALL_METHODS, HttpMethod, IdentitySource
from apis.fields import API_FIELDS, POLICY_FIELDS, ROUTE_FIELDS
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.paths import example_path
from apis.token_location import DEFAULT, TokenLocation
from applications.fields import APPLICATION_FIELDS
from authservers.fields import SERVER_FIELDS
from console.api_tabs import _curl_example
from console.forms import ApiForm, ApplicationForm, InspectorForm, PolicyForm, RouteForm, ServerForm
from proxy.config import PolicyConfig
from proxy.identify import extract_token
from proxy.inspector import _environ_for
from proxy.routing import ANY_METHODS, RouteConfig, RouteTrie
from rest_api.apis.serializers import ApiSerializer, PolicySerializer, RouteSerializer
from rest_api.applications.serializers import ApplicationSerializer
from rest_api.authservers.serializers import AuthorizationServerSerializer
from rest_api.serializers import InspectedCallSerializer

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl"

# --- example paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "example"),
    [
        ("/pets/{id}", "/pets/1"),
        ("/files/{path+}", "/files/example"),
        ("/pets/{id}/files/{path+}", "/pets/1/files/example"),
        ("/{path+}", "/example"),
        ("/pets", "/pets"),
        ("/", "/"),
    ],
)
def test_the_example_path_is_one_the_proxy_routes_to_its_template(template, example):
    assert example_path(template) == example
    others = ["/pets", "/pets/{id}", "/pets/{id}/files/{path+}", "/files/{path+}", "/{path+}"]
    routes = [
        RouteConfig(index, "GET", path, frozenset(), False)
        for index, path in enumerate(dict.fromkeys([template, *others]))
    ]
    matched = RouteTrie(routes).match([part for part in example.split("/") if part], "GET")
    assert matched.path == template


# --- where the token travels --------------------------------------------------------------

LOCATIONS = [
    (IdentitySource.HEADER, "Authorization"),
    (IdentitySource.HEADER, "X-Api-Token"),
    (IdentitySource.QUERY, "access_token"),
    (IdentitySource.QUERY, "gk-token"),
    (IdentitySource.COOKIE, "gk_token"),
]


def _policy_config(source: str, name: str) -> PolicyConfig:
    return PolicyConfig(
        servers_by_issuer={},
        identity_source=source,
        identity_name=name,
        audiences=frozenset({"petstore"}),
        required_scopes=frozenset(),
        allow_anonymous=False,
        forward_claims=(),
        forward_authorization=False,
    )


@pytest.fixture
def protected_api(db) -> Api:
    api = Api.objects.create(name="Pets", base_path="/pets/v1", upstream_url="http://127.0.0.1:9")
    Route.objects.create(api=api, method="GET", path="/pets/{id}/files/{path+}")
    return api


def _environ_from_curl(command: str) -> dict:
    """The environ the proxy would see for the console's curl command, $TOKEN filled in."""
    words = shlex.split(command.replace("$TOKEN", TOKEN))
    environ = {"REQUEST_METHOD": "GET", "QUERY_STRING": urlsplit(words[-1]).query}
    for flag, value in pairwise(words):
        if flag == "-H":
            name, _, header_value = value.partition(": ")
            environ["HTTP_" + name.upper().replace("-", "_")] = header_value
        elif flag == "--cookie":
            environ["HTTP_COOKIE"] = value
    return environ


@pytest.mark.parametrize(("source", "name"), LOCATIONS)
def test_console_inspector_and_proxy_agree_on_where_the_token_is(protected_api, source, name):
    policy = IdentifyAndAuthorizePolicy.objects.create(
        api=protected_api, identity_source=source, identity_name=name, audiences=["petstore"]
    )
    config = _policy_config(source, name)
    assert TokenLocation.of(policy) == config.token_location == TokenLocation(source, name)
    # The inspector (console and REST alike: both call proxy.inspector.inspect_token).
    assert extract_token(_environ_for(protected_api, "GET", TOKEN), config) == TOKEN
    # The console's curl example.
    routes = list(protected_api.routes.all())
    curl = _curl_example(protected_api, routes, policy)
    assert extract_token(_environ_from_curl(curl), config) == TOKEN


def test_without_a_policy_the_token_goes_in_the_authorization_header(protected_api):
    assert (
        TokenLocation.of(None) == DEFAULT == TokenLocation(IdentitySource.HEADER, "Authorization")
    )
    environ = _environ_for(protected_api, "GET", TOKEN)
    assert environ["HTTP_AUTHORIZATION"] == f"Bearer {TOKEN}"
    curl = _curl_example(protected_api, list(protected_api.routes.all()), None)
    assert '-H "Authorization: Bearer $TOKEN"' in curl


# --- the inspected call ------------------------------------------------------------------------


def test_any_stands_for_the_methods_the_inspector_offers():
    assert frozenset(CALL_METHODS) == ANY_METHODS
    assert HttpMethod.ANY not in CALL_METHODS
    assert [value for value, _ in InspectorForm.base_fields["method"].choices] == list(CALL_METHODS)
    assert list(InspectedCallSerializer().fields["method"].choices) == list(CALL_METHODS)


@pytest.mark.parametrize(
    ("path", "valid"),
    [
        ("/pets/42", True),
        ("/", True),
        ("/pets/{id}", True),
        ("pets", False),
        ("/pets?a=1", False),
        ("/pets#top", False),
        ("/pe ts", False),
        ("/pets/\x7f", False),
        ("/" + "a" * 2000, False),
    ],
)
def test_the_console_form_and_the_rest_serializer_judge_a_path_alike(protected_api, path, valid):
    data = {"api": protected_api.pk, "method": "GET", "path": path, "token": ""}
    form = InspectorForm(data)
    serializer = InspectedCallSerializer(data=data)
    assert form.is_valid() is valid, form.errors
    assert serializer.is_valid() is valid, serializer.errors
    if not valid:
        assert form.errors["path"] and serializer.errors["path"]
        if len(path) <= 2000:
            assert form.errors["path"] == [str(e) for e in serializer.errors["path"]]


# --- editable fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "serializer", "editable"),
    [
        (ApiForm, ApiSerializer, API_FIELDS),
        (RouteForm, RouteSerializer, ROUTE_FIELDS),
        (PolicyForm, PolicySerializer, POLICY_FIELDS),
        (ApplicationForm, ApplicationSerializer, APPLICATION_FIELDS),
        (ServerForm, AuthorizationServerSerializer, SERVER_FIELDS),
    ],
)
def test_the_form_and_the_serializer_edit_the_same_fields(form, serializer, editable):
    assert list(form.base_fields) == list(editable)
    writable = {
        name
        for name, field in serializer().fields.items()
        if not field.read_only and name not in {"status"}
    }
    assert writable == set(editable)
