"""The token inspector: the proxy's own decision, check by check, and the token decoded
for reading without trusting its signature."""

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from apis.models import Api
from apis.services import activate_api, deactivate_api
from proxy.config import config_holder
from proxy.inspector import decode_for_display
from tests.conftest import publish_api
from tests.tokens import claims_for, raw_token, sign

URL = reverse("console:inspector")


@pytest.fixture
def petstore(db, idp, upstream):
    """The shared published API (tests/conftest.py): active, trusting `idp`, one application."""
    api, _, _ = publish_api(idp, upstream)
    return api


def _inspect(console, api, token, path="/pets", method="GET"):
    response = console.post(URL, {"token": token, "api": api.pk, "method": method, "path": path})
    assert response.status_code == 200
    return response


def test_a_valid_token_is_allowed_with_every_check_passed(console, petstore, idp, rsa_key):
    response = _inspect(console, petstore, sign(rsa_key, claims_for(idp.issuer)))
    inspection = response.context["inspection"]
    assert (inspection.allowed, inspection.status) == (True, 200)
    assert inspection.application == "Petstore client"
    assert [step["check"] for step in inspection.trace][:2] == ["route", "format"]
    assert all(step["ok"] for step in inspection.trace)
    assertContains(response, 'data-verdict="allowed"')
    assertContains(response, "Petstore client")


def test_a_wrong_audience_names_the_failing_check_and_what_to_do(console, petstore, idp, rsa_key):
    token = sign(rsa_key, claims_for(idp.issuer, aud="billing"))
    response = _inspect(console, petstore, token)
    inspection = response.context["inspection"]
    assert (inspection.status, inspection.code) == (401, "invalid_token")
    failure = response.context["failure"]
    assert (failure["check"], failure["ok"]) == ("aud", False)
    assert failure["detail"] == "The token is not meant for this API (aud)."
    assert (failure["expected"], failure["actual"]) == ({"aud": ["petstore"]}, {"aud": "billing"})
    assertContains(response, 'class="failed" data-check="aud"')
    # Expected versus actual, side by side, and the admin's version of the detail.
    assertContains(
        response,
        '<tr data-fact="aud"><th scope="row"><code>aud</code></th>'
        '<td class="mono">petstore</td><td class="mono">billing</td></tr>',
        html=True,
    )
    assertContains(response, "None of the token&#x27;s audiences is one of the API&#x27;s.")
    assertContains(response, "for one of the API&#x27;s audiences")
    # The token is shown decoded, header and claims.
    assertContains(response, "&quot;aud&quot;: &quot;billing&quot;")
    assertContains(response, "&quot;kid&quot;: &quot;rsa-1&quot;")


def test_an_expired_token_is_explained_with_readable_times(console, petstore, idp, rsa_key):
    token = sign(rsa_key, claims_for(idp.issuer, exp=1_600_000_000, iat=1_599_999_000))
    response = _inspect(console, petstore, token)
    assert response.context["failure"]["check"] == "exp"
    assertContains(response, "The token expired at 2020-09-13T12:26:40+00:00 (")
    times = {t["name"]: t for t in response.context["decoded"]["times"]}
    assert times["exp"]["past"] is True
    assert times["exp"]["relative"].endswith(" ago")
    assertContains(response, 'class="past-exp"')


def test_a_tampered_signature_fails_the_signature_check(console, petstore, idp, rsa_key):
    header, _payload, signature = sign(rsa_key, claims_for(idp.issuer)).split(".")
    forged = sign(rsa_key, claims_for(idp.issuer, client_id="someone-else")).split(".")[1]
    response = _inspect(console, petstore, f"{header}.{forged}.{signature}")
    assert response.context["failure"]["check"] == "signature"
    # Decoded anyway: the inspector shows what the token claims, verified or not.
    assert response.context["decoded"]["claims"]["client_id"] == "someone-else"


def test_an_unknown_application_is_a_403_with_the_reason(console, petstore, idp, rsa_key):
    response = _inspect(console, petstore, sign(rsa_key, claims_for(idp.issuer, client_id="x")))
    inspection = response.context["inspection"]
    assert (inspection.status, inspection.code) == (403, "application_not_authorized")
    assertContains(response, "no active application associated")


def test_a_missing_scope_is_named(console, petstore, idp, rsa_key):
    token = sign(rsa_key, claims_for(idp.issuer, scope="other"))
    response = _inspect(console, petstore, token)
    assert response.context["inspection"].code == "insufficient_scope"
    assert response.context["failure"]["check"] == "scopes"


def test_a_bearer_prefix_is_accepted(console, petstore, idp, rsa_key):
    token = sign(rsa_key, claims_for(idp.issuer))
    response = _inspect(console, petstore, f"  bearer {token}\n")
    assert response.context["inspection"].allowed is True


def test_garbage_is_not_decoded_and_fails_the_format_check(console, petstore):
    response = _inspect(console, petstore, "not-a-jwt")
    assert response.context["failure"]["check"] == "format"
    assert response.context["decoded"]["errors"] == [
        "Not a compact JWT: expected 3 dot-separated parts, found 1."
    ]


def test_no_token_is_a_missing_token(console, petstore):
    response = _inspect(console, petstore, "")
    assert response.context["inspection"].code == "missing_token"
    assertContains(response, "inspected as an anonymous call")


def test_a_public_route_needs_no_token(console, petstore):
    response = _inspect(console, petstore, "", path="/health")
    assert response.context["inspection"].allowed is True


def test_an_inactive_api_is_pointed_out(console, idp, rsa_key, db):
    api = Api.objects.create(name="Draft", base_path="/draft", upstream_url="http://127.0.0.1:9")
    response = _inspect(console, api, sign(rsa_key, claims_for(idp.issuer)))
    assert response.context["inspection"].code == "api_not_found"
    assertContains(response, "Draft is inactive.")


def test_the_form_is_prefilled_from_links(console, petstore):
    response = console.get(URL, {"api": petstore.pk, "path": "/pets/1", "method": "DELETE"})
    form = response.context["form"]
    assert form["api"].value() == str(petstore.pk)
    assert (form["path"].value(), form["method"].value()) == ("/pets/1", "DELETE")


def test_invalid_input_is_shown_in_place(console, petstore):
    response = console.post(URL, {"token": "x", "api": petstore.pk, "method": "GET", "path": "p"})
    assert response.context["form"].errors["path"] == [
        "Give a path starting with '/', without query or spaces."
    ]
    assert "inspection" not in response.context


def test_without_apis_the_inspector_explains_what_to_do_first(console):
    assertContains(console.get(URL), "No APIs to inspect calls for")


def test_decoding_reports_each_broken_segment():
    decoded = decode_for_display(raw_token({"alg": "RS256"}, b"\xff\xfe"))
    assert decoded["header"] == {"alg": "RS256"}
    assert decoded["claims"] is None
    assert decoded["errors"] == ["The token payload is not UTF-8."]
    decoded = decode_for_display("a+b.c.d")
    assert decoded["errors"][0] == "The header is not canonical base64url."


def test_the_inspector_uses_the_live_gateway_config(console, petstore, idp, rsa_key):
    """What the inspector says follows activation, like the proxy does."""
    token = sign(rsa_key, claims_for(idp.issuer))
    deactivate_api(petstore)
    # The test transaction never commits, so no config version is published: rebuild now.
    config_holder.invalidate()
    assert _inspect(console, petstore, token).context["inspection"].code == "api_not_found"
    assert activate_api(petstore) == []
    config_holder.invalidate()
    assert _inspect(console, petstore, token).context["inspection"].allowed is True
