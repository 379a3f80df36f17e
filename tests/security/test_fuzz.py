"""Property tests: whatever arrives, only the gateway's own GatewayError types come out.

Token extraction and validation run in-process against a compiled PolicyConfig
(many examples, fast); a smaller run goes through the real HTTP server. Bounded
with max_examples so CI stays quick; no example database is written.
"""

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.errors import GatewayError
from proxy.identify import extract_token
from proxy.tokens import VerifiedToken, validate_token
from tests.production import raw_exchange
from tests.security.forge import b64url
from tests.security.realm import environ, make_policy, make_realm
from tests.tokens import sign, sign_raw

pytestmark = pytest.mark.django_db

FAST = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
b64_alphabet = string.ascii_letters + string.digits + "-_"


@pytest.fixture
def realm(rsa_key, ec_key):
    return make_realm([rsa_key, ec_key])


def only_gateway_errors(call):
    """Run `call`; a GatewayError is a fine answer, anything else fails the property."""
    try:
        return call()
    except GatewayError as error:
        assert 400 <= error.status < 600
        assert error.code
        return error


def extract_then_validate(authorization: str, policy, query: str = "", cookie: str = ""):
    extras = {"HTTP_COOKIE": cookie} if cookie else {}
    token = only_gateway_errors(
        lambda: extract_token(environ(authorization, query, **extras), policy)
    )
    if isinstance(token, str):
        result = only_gateway_errors(lambda: validate_token(token, policy))
        assert isinstance(result, VerifiedToken | GatewayError)


@FAST
@given(st.text(max_size=300))
def test_any_authorization_text_yields_a_token_or_a_gateway_error(realm, value):
    extract_then_validate(value, realm.policy)


@FAST
@given(st.binary(max_size=300))
def test_any_authorization_bytes_as_the_server_hands_them_over(realm, raw):
    # WSGI servers decode header bytes as latin-1: every byte value is possible.
    extract_then_validate("Bearer " + raw.decode("latin-1"), realm.policy)


@FAST
@given(
    st.sampled_from(["header", "query", "cookie"]),
    st.text(max_size=200),
)
def test_any_query_string_or_cookie_for_every_identity_source(realm, source, value):
    policy = make_policy(
        realm.server,
        identity_source=source,
        identity_name="access_token" if source != "header" else "Authorization",
    )
    extract_then_validate(value, policy, query=value, cookie=value)


@FAST
@given(st.binary(max_size=200), st.binary(max_size=400), st.binary(max_size=300))
def test_any_bytes_in_each_segment(realm, header, payload, signature):
    token = f"{b64url(header)}.{b64url(payload)}.{b64url(signature)}"
    result = only_gateway_errors(lambda: validate_token(token, realm.policy))
    assert isinstance(result, GatewayError)  # random bytes never make a valid token


@FAST
@given(
    st.text(alphabet=b64_alphabet + ".=+/ \n", max_size=400),
)
def test_any_near_jws_text(realm, token):
    only_gateway_errors(lambda: validate_token(token, realm.policy))


@FAST
@given(
    st.dictionaries(
        st.sampled_from(["alg", "kid", "typ", "cty", "crit", "jku", "jwk", "x5c", "zip", "b64"]),
        json_values,
        max_size=5,
    ),
    st.binary(max_size=64),
)
def test_any_json_header(realm, header, signature):
    _, payload, _ = realm.token().split(".")
    token = f"{b64url(json.dumps(header))}.{payload}.{b64url(signature)}"
    result = only_gateway_errors(lambda: validate_token(token, realm.policy))
    assert isinstance(result, GatewayError)


claim_values = {
    "iss": json_values,
    "aud": json_values | st.just("petstore") | st.lists(st.sampled_from(["petstore", "x"])),
    "exp": json_values | st.integers(min_value=-(10**20), max_value=10**20) | st.floats(),
    "nbf": json_values | st.floats(allow_nan=False),
    "iat": json_values | st.integers(),
    "scope": json_values,
    "scp": json_values,
    "client_id": json_values,
    "sub": json_values,
}


@FAST
@given(st.fixed_dictionaries({}, optional=claim_values))
def test_any_claims_signed_with_the_real_key(realm, ec_key, claims):
    """Past the signature: every claim check meets hostile types and values."""
    claims.setdefault("iss", realm.issuer)
    token = sign(ec_key, claims, alg="ES256")  # json.dumps writes inf and nan as Infinity, NaN
    result = only_gateway_errors(lambda: validate_token(token, realm.policy))
    assert isinstance(result, VerifiedToken | GatewayError)


@FAST
@given(st.text(max_size=200))
def test_any_signed_payload_text(realm, ec_key, text):
    token = sign_raw(ec_key, {"alg": "ES256", "kid": "ec-1"}, text.encode("utf-8", "surrogatepass"))
    only_gateway_errors(lambda: validate_token(token, realm.policy))


header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
    max_size=300,
)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(header_text, st.sampled_from(["", "Bearer ", "bearer  "]))
def test_any_authorization_header_over_http_is_never_5xx(published, value, prefix):
    # A raw socket: any byte but CR/LF goes out exactly as generated (requests would refuse some).
    request = (
        "GET /gateway/petstore/v1/pets HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        f"Authorization: {prefix}{value}\r\n\r\n"
    ).encode("latin-1")
    data, _ = raw_exchange(published.gateway.port, request, until_close=False)
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert status in {400, 401, 403}, data[:300]
    assert b"content-type: application/problem+json" in head.lower()
    assert json.loads(body)["code"] in {"invalid_request", "missing_token", "invalid_token"}
    assert published.upstream.hits == 0
