"""Every wrong token gets the status and code of docs/architecture.md (Errors) and
never reaches the upstream."""

import base64
import time

import pytest
from jwcrypto import jwk

from applications.models import Application
from tests.tokens import new_rsa_key, raw_token, sign, sign_raw


def assert_rejected(published, response, status: int, code: str, detail_part: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert response.headers["Content-Type"] == "application/problem+json"
    assert body["code"] == code
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert detail_part.lower() in body["detail"].lower()
    assert published.upstream.hits == 0


def test_it_rejects_a_malformed_token(published):
    response = published.get("/pets", "not-a-jwt")
    assert_rejected(published, response, 401, "invalid_token", "compact JWS")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="gatekeep", error="invalid_token"')


def test_it_rejects_a_base64_wrapped_jwt_with_its_own_detail(published):
    wrapped = base64.b64encode(published.token().encode()).decode()
    response = published.get("/pets", wrapped)
    assert_rejected(published, response, 401, "invalid_token", "base64-encoded JWT")


def test_it_rejects_a_bad_signature(published):
    token = published.token()
    header, payload, signature = token.split(".")
    tampered = signature[:-4] + ("AAAA" if not signature.endswith("AAAA") else "BBBB")
    response = published.get("/pets", f"{header}.{payload}.{tampered}")
    assert_rejected(published, response, 401, "invalid_token", "signature")


def test_it_rejects_a_token_signed_by_another_key_with_a_known_kid(published):
    impostor = new_rsa_key("rsa-1")  # same kid as the real key, different key material
    response = published.get("/pets", published.token(key=impostor))
    assert_rejected(published, response, 401, "invalid_token", "signature")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_it_rejects_alg_none_in_any_case(published, alg):
    good = published.token()
    header = {"alg": alg, "typ": "JWT", "kid": "rsa-1"}
    unsigned = raw_token(header, published_claims(published))
    kept_signature = unsigned.rsplit(".", 1)[0] + "." + good.rsplit(".", 1)[1]
    for token in (unsigned.rstrip("."), unsigned + "AA", kept_signature):
        response = published.get("/pets", token)
        assert_rejected(published, response, 401, "invalid_token")


def published_claims(published) -> dict:
    from tests.tokens import claims_for

    return claims_for(published.idp.issuer)


def test_it_rejects_hs256_signed_with_the_rsa_public_key(published, rsa_key):
    pem = rsa_key.export_to_pem()  # public PEM
    secret = jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(pem).rstrip(b"=").decode())
    token = sign(secret, published_claims(published), {"kid": "rsa-1"}, alg="HS256")
    response = published.get("/pets", token)
    assert_rejected(published, response, 401, "invalid_token", "HS256")


def test_it_rejects_an_unknown_kid_after_one_refresh(published):
    stranger = new_rsa_key("never-published")
    response = published.get("/pets", published.token(key=stranger))
    assert_rejected(published, response, 401, "invalid_token", "unknown")


def test_it_rejects_a_wrong_issuer(published):
    response = published.get("/pets", published.token(iss=published.idp.issuer + "/"))
    assert_rejected(published, response, 401, "invalid_token", "issuer")


def test_it_rejects_a_wrong_audience(published):
    response = published.get("/pets", published.token(aud="someone-else"))
    assert_rejected(published, response, 401, "invalid_token", "aud")


@pytest.mark.parametrize("aud", ["petstore", ["other", "petstore"]])
def test_it_accepts_aud_as_string_or_list(published, aud):
    assert published.get("/pets", published.token(aud=aud)).status_code == 200


# Offsets from "now" at test time: collection can happen long before a test runs.
@pytest.mark.parametrize(
    ("claim", "offset", "detail"),
    [("exp", -120, "expired"), ("nbf", 120, "nbf"), ("iat", 120, "iat"), ("exp", None, "no exp")],
)
def test_it_rejects_time_claims_beyond_the_leeway(published, claim, offset, detail):
    value = None if offset is None else int(time.time()) + offset
    response = published.get("/pets", published.token(**{claim: value}))
    assert_rejected(published, response, 401, "invalid_token", detail)


@pytest.mark.parametrize(("claim", "offset"), [("exp", -30), ("nbf", 30), ("iat", 30)])
def test_it_accepts_time_claims_inside_the_leeway(published, claim, offset):
    token = published.token(**{claim: int(time.time()) + offset})
    assert published.get("/pets", token).status_code == 200


def test_it_rejects_a_crit_header(published):
    header = {"alg": "RS256", "kid": "rsa-1", "crit": ["exp"], "exp": 1}
    response = published.get(
        "/pets", sign_raw(published.rsa_key, header, published_claims(published))
    )
    assert_rejected(published, response, 401, "invalid_token", "critical")


def test_it_refuses_an_application_not_associated_with_the_api(published):
    response = published.get("/pets", published.token(client_id="some-other-client"))
    assert_rejected(published, response, 403, "application_not_authorized", "no application")


def test_it_refuses_a_suspended_application(published):
    Application.objects.filter(pk=published.application.pk).update(status="suspended")
    published.application.refresh_from_db()
    published.application.save()  # moves the config version like any admin change
    time.sleep(0.6)
    response = published.get("/pets", published.token())
    assert_rejected(published, response, 403, "application_not_authorized", "suspended")


def test_it_refuses_a_token_without_the_route_scope(published):
    response = published.get("/pets", published.token(scope="other:read"))
    assert_rejected(published, response, 403, "insufficient_scope", "pets:read")
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="pets:read"' in challenge


def test_it_accepts_scopes_from_an_scp_list(published):
    token = published.token(scope=None, scp=["pets:read"])
    assert published.get("/pets", token).status_code == 200
