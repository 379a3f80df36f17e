"""Getting the bearer token out of a request, and parsing it before any signature check.

The Authorization scheme is case-insensitive; two credentials (two headers, a header
plus a query or form-body token) are invalid_request; no credential is a bare 401
challenge; every error description is quotable (RFC 6750); a token over
GATEWAY_MAX_TOKEN_BYTES is refused before it is decoded. Parsing accepts only canonical
base64url, compact JWS serialization, one JWS layer, UTF-8 JSON objects without
duplicate members and no `crit` header. The rules are A1-A5 and B1-B5 of docs/security.md,
Token rules.
"""

import base64
import json
import re

import pytest
import requests

from proxy.errors import InvalidRequest, InvalidToken, challenge
from proxy.identify import extract_token
from proxy.tokens import decode_segment, parse_json_object, validate_token
from tests.production import raw_exchange
from tests.security.forge import b64url, hs256, jwe_compact, nested, unsigned
from tests.security.realm import environ, make_policy, make_realm
from tests.tokens import sign_raw

pytestmark = pytest.mark.django_db


@pytest.fixture
def realm(rsa_key, ec_key):
    return make_realm([rsa_key, ec_key])


# --- Getting the token out of the request (A1-A5) ----------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
@pytest.mark.parametrize("spaces", [" ", "  ", "     "])
def test_the_scheme_is_case_insensitive_and_any_run_of_spaces_separates(realm, scheme, spaces):
    token = realm.token()
    assert extract_token(environ(f"{scheme}{spaces}{token}"), realm.policy) == token


@pytest.mark.parametrize(
    "value",
    ["Bearer\t{t}", "Bearer {t} extra", "Bearer {t}==", "Bearer {t}~", "Bearer{t}"],
    ids=["tab", "two-words", "b64token-padding", "b64token-tilde", "no-separator"],
)
def test_what_the_b64token_grammar_allows_still_has_to_be_a_jws(realm, value):
    token = realm.token()
    extracted = extract_token(environ(value.format(t=token)), realm.policy)
    assert extracted != token
    with pytest.raises(InvalidToken):
        validate_token(extracted, realm.policy)


def test_a_lowercase_scheme_is_accepted_over_http(published):
    response = published.get("/pets", headers={"Authorization": f"bearer {published.token()}"})
    assert response.status_code == 200


def test_two_authorization_headers_joined_by_the_server_are_invalid_request(published):
    token = published.token()
    raw = (
        f"GET /gateway/petstore/v1/pets HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ).encode()
    response, _ = raw_exchange(published.gateway.port, raw)
    assert response.startswith(b"HTTP/1.1 400"), response[:200]
    assert b'"code": "invalid_request"' in response
    assert b'error="invalid_request"' in response
    assert published.upstream.hits == 0


def test_two_authorization_headers_under_gunicorn_are_invalid_request(
    published, production_gateway
):
    gateway = production_gateway()
    token = published.token()
    raw = (
        f"GET /gateway/petstore/v1/pets HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ).encode()
    response, _ = raw_exchange(gateway.port, raw)
    assert response.startswith(b"HTTP/1.1 400"), response[:200]
    assert b'"code": "invalid_request"' in response
    assert published.upstream.hits == 0


def test_a_header_plus_a_query_token_is_invalid_request(realm):
    token = realm.token()
    with pytest.raises(InvalidRequest):
        extract_token(environ(f"Bearer {token}", query=f"access_token={token}"), realm.policy)


def test_a_header_plus_a_form_body_token_is_invalid_request_and_the_body_survives(published):
    token = published.token()
    headers = {"Authorization": f"Bearer {token}"}
    form = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    refused = requests.post(
        published.url + "/pets", data=f"a=1&access_token={token}", headers=form, timeout=5
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_request"
    assert published.upstream.hits == 0
    # A form without access_token is read ahead for the check, then streamed unchanged.
    body = "name=rex&tags=a%20b&note=" + "x" * 100_000
    passed = requests.post(published.url + "/pets", data=body, headers=form, timeout=5)
    assert passed.status_code == 200
    assert published.upstream.last["body"] == body.encode()


def test_a_chunked_form_body_token_is_refused_under_gunicorn(published, production_gateway):
    gateway = production_gateway()
    token = published.token()

    def body():
        yield b"a=1&"
        yield f"access_token={token}".encode()

    response = requests.post(
        f"{gateway.url}/gateway/petstore/v1/pets",
        data=body(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert published.upstream.hits == 0


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Basic dXNlcjpwYXNz", "Digest username=x", "Bearer", "Bearer   "],
    ids=["none", "empty", "basic", "digest", "bearer-alone", "bearer-spaces"],
)
def test_no_credential_is_401_with_a_bare_challenge(published, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = published.get("/pets", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "missing_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="gatekeep"'


# RFC 6750 §3: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E )
_DESCRIPTION = re.compile(r'error_description="([\x20\x21\x23-\x5b\x5d-\x7e]*)"')


def test_token_failures_are_401_invalid_token_with_a_quotable_description(published):
    hostile_kid = 'k"\\\x7f\u00e9\u2028"; error="none'
    token = published.token(header={"kid": hostile_kid})
    response = published.get("/pets", token)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    header = response.headers["WWW-Authenticate"]
    assert header.startswith('Bearer realm="gatekeep", error="invalid_token", error_description="')
    found = _DESCRIPTION.search(header)
    assert found is not None
    assert header.endswith(found.group(0))  # the description closes the challenge


def test_every_error_description_is_restricted_to_the_rfc_6750_characters():
    error = InvalidToken('x "quoted" \\ back \x00 nul \r\n crlf é')
    description = _DESCRIPTION.search(challenge(error))
    assert description is not None
    assert '"' not in description.group(1) and "\\" not in description.group(1)


def test_too_few_scopes_is_403_insufficient_scope_naming_the_scope(published):
    response = published.get("/pets", published.token(scope="other"))
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert 'scope="pets:read"' in response.headers["WWW-Authenticate"]


def test_a_token_over_8_kib_is_refused_before_anything_is_decoded(realm, settings):
    # Valid base64url segments, so only the length check can refuse it.
    segment = "A" * (settings.GATEWAY_MAX_TOKEN_BYTES // 2)
    long_token = f"{segment}.{segment}.AAAA"
    with pytest.raises(InvalidToken, match="too long"):
        extract_token(environ(f"Bearer {long_token}"), realm.policy)
    with pytest.raises(InvalidToken, match="too long"):
        validate_token(long_token, realm.policy)  # the inspector path caps too


def test_a_token_of_exactly_the_cap_is_still_parsed(realm, settings):
    token = realm.token()
    padded = token + "A" * (settings.GATEWAY_MAX_TOKEN_BYTES - len(token))
    with pytest.raises(InvalidToken) as caught:
        validate_token(padded, realm.policy)
    assert "too long" not in caught.value.detail


# --- Parsing (B1-B5) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s + "==",
        lambda s: s + "=",
        lambda s: s.replace("-", "+").replace("_", "/") if ("-" in s or "_" in s) else s + "+",
        lambda s: s[:10] + "\n   " + s[10:],
        lambda s: s[:10] + " " + s[10:],
        lambda s: s + "\n",
    ],
    ids=["padding", "one-pad", "plus-slash", "newline-spaces", "space", "trailing-newline"],
)
def test_a_non_canonical_signature_spelling_is_refused(realm, mutate):
    token = realm.token()
    header, payload, signature = token.split(".")
    validate_token(token, realm.policy)  # the canonical spelling passes (and is cached)
    with pytest.raises(InvalidToken):
        validate_token(f"{header}.{payload}.{mutate(signature)}", realm.policy)


def test_non_zero_trailing_bits_in_base64url_are_refused(realm):
    token = realm.token()
    header, payload, signature = token.split(".")
    raw = decode_segment(signature)
    # The same bytes, spelled with different unused low bits in the last character.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    twin = signature[:-1] + alphabet[last ^ 1]
    assert base64.urlsafe_b64decode(twin + "=" * (-len(twin) % 4)) == raw
    with pytest.raises(InvalidToken, match="canonical"):
        validate_token(f"{header}.{payload}.{twin}", realm.policy)


def test_only_compact_serialization_is_parsed(realm):
    header, payload, signature = realm.token().split(".")
    for text in (
        json.dumps({"payload": payload, "protected": header, "signature": signature}),
        f"{header}.{payload}.{signature}.{signature}",
        f"{header}..{signature}",
    ):
        with pytest.raises(InvalidToken, match="compact JWS"):
            validate_token(text, realm.policy)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (nested(2500).encode(), "nested"),
        (b"[1, 2]", "object"),
        (b"null", "object"),
        (b'"text"', "object"),
        (b"\xff\xfe{}", "UTF-8"),
        (b'{"a": NaN}', "JSON"),
        (b'{"a": 1' + b"0" * 5000 + b"}", "JSON"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"a": "\\udc00\\ud800"}', "surrogate"),
        (b"{", "JSON"),
    ],
    ids=[
        "nested-2500",
        "array",
        "null",
        "string",
        "not-utf8",
        "nan",
        "5000-digit-int",
        "lone-high-surrogate",
        "reversed-pair",
        "truncated",
    ],
)
def test_header_and_claims_must_be_a_utf8_json_object(raw, reason):
    with pytest.raises(InvalidToken, match=reason):
        parse_json_object(raw, "header", "header")


def test_a_paired_surrogate_is_fine():
    assert parse_json_object(b'{"a": "\\ud83d\\ude00"}', "payload", "claims") == {"a": "\U0001f600"}


def test_a_deeply_nested_header_is_401_over_http_not_500(published):
    token = unsigned(nested(2500), published_claims(published), b"sig")
    response = published.get("/pets", token)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def published_claims(published) -> dict:
    from tests.tokens import claims_for

    return claims_for(published.idp.issuer)


@pytest.mark.parametrize(
    "payload",
    [
        '{{"iss": "https://evil.example", "iss": "{iss}", "aud": "petstore", "exp": 9999999999}}',
        '{{"iss": "{iss}", "aud": "petstore", "exp": 9999999999, "exp": 1}}',
        '{{"iss": "{iss}", "aud": "petstore", "exp": 9999999999, "x": {{"a": 1, "a": 2}}}}',
    ],
    ids=["iss-twice", "exp-twice", "nested-twice"],
)
def test_duplicate_member_names_are_rejected(realm, rsa_key, payload):
    token = sign_raw(rsa_key, {"alg": "RS256", "kid": "rsa-1"}, payload.format(iss=realm.issuer))
    with pytest.raises(InvalidToken, match="duplicate"):
        validate_token(token, realm.policy)


def test_a_duplicate_alg_in_the_header_is_rejected(realm, rsa_key):
    token = sign_raw(rsa_key, '{"alg": "none", "alg": "RS256", "kid": "rsa-1"}', realm.claims())
    with pytest.raises(InvalidToken, match="duplicate"):
        validate_token(token, realm.policy)


@pytest.mark.parametrize("crit", [["exp"], ["b64"], ["x-unknown"], "x", [], None])
def test_any_crit_header_is_refused(realm, rsa_key, crit):
    token = sign_raw(rsa_key, {"alg": "RS256", "kid": "rsa-1", "crit": crit}, realm.claims())
    with pytest.raises(InvalidToken, match="critical"):
        validate_token(token, realm.policy)


def test_only_one_jws_layer_is_accepted(realm, rsa_key):
    inner = realm.token()
    for token, reason in [
        (sign_raw(rsa_key, {"alg": "RS256", "kid": "rsa-1", "cty": "JWT"}, inner), "Nested"),
        (
            sign_raw(rsa_key, {"alg": "RS256", "kid": "rsa-1", "cty": "application/jwt"}, inner),
            "Nested",
        ),
        (jwe_compact({"alg": "RSA-OAEP", "enc": "A256GCM", "cty": "JWT"}), "JWE"),
        (base64.b64encode(inner.encode()).decode(), "base64-encoded"),
        (b64url(inner), "base64-encoded"),
    ]:
        with pytest.raises(InvalidToken, match=reason):
            validate_token(token, realm.policy)


def test_a_header_announcing_encryption_is_refused_on_a_jws(realm, rsa_key):
    for extra in ({"enc": "A256GCM"}, {"zip": "DEF"}):
        token = sign_raw(rsa_key, {"alg": "RS256", "kid": "rsa-1", **extra}, realm.claims())
        with pytest.raises(InvalidToken, match="Encrypted or compressed"):
            validate_token(token, realm.policy)


def test_the_hmac_of_a_nested_token_proves_nothing(realm):
    token = hs256({"alg": "HS256", "cty": "JWT"}, realm.token(), b"secret")
    with pytest.raises(InvalidToken):
        validate_token(token, make_policy(realm.server))
