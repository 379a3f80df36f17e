"""Transformations of headers and query parameters, and what they can never do."""

import pytest
from django.core.exceptions import ValidationError

from apis.models import Route
from policies.models import Transformation
from policies.validators import PROTECTED_REQUEST_HEADERS
from proxy.forward import FORWARDING_HEADERS, FRAMING_HEADERS, OVERRIDE_HEADERS
from proxy.headers import HOP_BY_HOP


def rule(api, **fields):
    return Transformation(api=api, **fields)


def test_request_and_response_headers_and_query_are_transformed(published, attach):
    api = published.api
    by_id = Route.objects.get(api=api, path="/pets/{id}")
    attach(
        Transformation,
        target="request_header",
        operation="set",
        name="X-Tenant",
        source="claim",
        value="tenant",
    )
    attach(
        Transformation,
        target="request_header",
        operation="add",
        name="X-App",
        source="application",
        value="name",
    )
    attach(
        Transformation,
        target="request_header",
        operation="set",
        name="X-Pet",
        source="path_param",
        value="id",
        route=by_id,
    )
    attach(
        Transformation, target="request_header", operation="rename", name="X-Old", new_name="X-New"
    )
    attach(Transformation, target="request_header", operation="remove", name="X-Debug")
    attach(
        Transformation,
        target="query_param",
        operation="set",
        name="api-version",
        source="constant",
        value="2024-01 beta",
    )
    attach(Transformation, target="query_param", operation="remove", name="debug")
    attach(
        Transformation,
        target="response_header",
        operation="set",
        name="X-Served-By",
        source="constant",
        value="gatekeep",
    )
    attach(Transformation, target="response_header", operation="remove", name="X-Powered-By")
    published.upstream.extra_headers = [("X-Powered-By", "leaky/1.0")]
    response = published.get(
        "/pets/42?debug=1&keep=yes",
        token=published.token(tenant="acme"),
        headers={"X-Old": "moved", "X-Debug": "1", "X-Tenant": "spoofed"},
    )
    assert response.status_code == 200
    seen = published.upstream.last
    assert seen["headers"]["x-tenant"] == "acme"
    assert seen["headers"]["x-app"] == "Petstore client"
    assert seen["headers"]["x-pet"] == "42"
    assert seen["headers"]["x-new"] == "moved"
    assert "x-old" not in seen["headers"] and "x-debug" not in seen["headers"]
    assert seen["path"] == "/backend/pets/42?keep=yes&api-version=2024-01%20beta"
    assert response.headers["X-Served-By"] == "gatekeep"
    assert "X-Powered-By" not in response.headers
    # A route-scoped rule applies to its route only.
    published.get("/pets?x=1", token=published.token(scope="pets:read"))
    assert "x-pet" not in published.upstream.last["headers"]


def test_a_claim_with_cr_lf_cannot_inject_a_header(published, attach):
    attach(
        Transformation,
        target="request_header",
        operation="set",
        name="X-Tenant",
        source="claim",
        value="tenant",
    )
    response = published.get("/pets/1", token=published.token(tenant="a\r\nX-Admin: 1"))
    assert response.status_code == 200
    headers = published.upstream.last["headers"]
    assert "x-admin" not in headers
    assert headers["x-tenant"] == "a%0D%0AX-Admin: 1"


@pytest.mark.parametrize("value", ["a\r\nX-Admin: 1", "a\nb", "nul\x00", "tab-ok\x7f"])
def test_a_constant_with_control_characters_is_refused(published, value):
    with pytest.raises(ValidationError, match="control characters"):
        rule(
            published.api,
            target="request_header",
            operation="set",
            name="X-A",
            source="constant",
            value=value,
        ).full_clean()


@pytest.mark.parametrize(
    "name",
    [
        "X-Forwarded-For",
        "x-gateway-application",
        "X_Gateway_Subject",
        "Host",
        "Via",
        "Connection",
        "Transfer-Encoding",
        "X-HTTP-Method-Override",
        "Authorization",
        "X-User-Email",
    ],  # the last: the policy's claim header
)
def test_a_rule_cannot_write_a_header_the_gateway_strips(published, name):
    for fields in (
        {"operation": "set", "name": name, "source": "constant", "value": "x"},
        {"operation": "rename", "name": "X-Harmless", "new_name": name},
    ):
        with pytest.raises(ValidationError) as refused:
            rule(published.api, target="request_header", **fields).full_clean()
        assert refused.value.message_dict


@pytest.mark.parametrize("name", ["Access-Control-Allow-Origin", "Set-Cookie", "Content-Length"])
def test_a_rule_cannot_widen_cors_or_set_cookies_on_responses(published, name):
    with pytest.raises(ValidationError):
        rule(
            published.api,
            target="response_header",
            operation="set",
            name=name,
            source="constant",
            value="*",
        ).full_clean()


def test_a_protected_rule_in_the_snapshot_is_skipped_anyway(published):
    from proxy.stages.transform import compile_transforms

    rows = [
        [None, "request_header", "set", "X-Forwarded-For", "", "constant", "6.6.6.6"],
        [None, "request_header", "rename", "X-Mine", "X-Gateway-Application", "", ""],
        [None, "request_header", "set", "X-Ok", "", "constant", "a\r\nb"],
        [None, "request_header", "set", "X-User-Email", "", "constant", "x"],
    ]
    assert compile_transforms(rows, frozenset({"x-user-email"})).request == ()


def test_the_protected_list_covers_every_header_the_proxy_strips():
    stripped = FORWARDING_HEADERS | OVERRIDE_HEADERS | FRAMING_HEADERS | HOP_BY_HOP
    assert stripped <= PROTECTED_REQUEST_HEADERS
