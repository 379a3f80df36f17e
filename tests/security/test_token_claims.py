"""The claims of a verified token: issuer, audience, time, type, scopes, forwarded headers.

`iss` equals the configured issuer exactly; `aud` (or, without it, `client_id`) names
one of the policy's audiences; `exp` is required and `exp`, `nbf` and `iat` are finite
JSON numbers checked with the server's leeway, also for a cached token; a server may
require `typ: at+jwt` in the header (the internal issuer always does); the route's and
the policy's scopes must all be granted; claims forwarded as headers are printable
ASCII and capped, and a client cannot forge them. The rules are D1-D10 of
docs/security.md, Token rules.
"""

import json
import time

import pytest
from django.core.exceptions import ValidationError

from apis.models import IdentifyAndAuthorizePolicy
from authservers.models import AuthorizationServer
from proxy.config import build_config
from proxy.errors import InvalidToken
from proxy.headers import MAX_CLAIM_HEADER_LENGTH, claim_header_value
from proxy.tokens import check_time_claims, validate_token
from tests.security.realm import make_policy, make_realm
from tests.tokens import sign_raw

pytestmark = pytest.mark.django_db


@pytest.fixture
def realm(rsa_key, ec_key):
    return make_realm([rsa_key, ec_key])


def now() -> int:
    return int(time.time())


# --- iss (D1) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "iss",
    [
        "https://idp.example.com/",
        "https://IDP.example.com",
        "http://idp.example.com",
        "https://idp.example.com:443",
        "https://idp.example.com#",
        " https://idp.example.com",
        None,
        ["https://idp.example.com"],
    ],
)
def test_iss_must_equal_the_configured_issuer_exactly(realm, iss):
    with pytest.raises(InvalidToken):
        validate_token(realm.token(iss=iss), realm.policy)
    assert validate_token(realm.token(), realm.policy).server is realm.server


def test_a_discovery_document_naming_another_issuer_is_refused(idp):
    from authservers.services import refresh_jwks

    idp.discovery_issuer = idp.issuer + "/"
    server = AuthorizationServer.objects.create(name="kc", issuer=idp.issuer)
    outcome = refresh_jwks(server)
    assert outcome.ok is False
    assert "refusing its keys" in outcome.error
    assert idp.hits == 0  # the JWKS of a mismatched issuer is never even fetched


# --- aud (D2) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aud", "accepted"),
    [
        ("petstore", True),
        (["x", "petstore"], True),
        (["petstore"], True),
        ("petstore ", False),
        ("Petstore", False),
        ("pet", False),
        ([], False),
        (["x"], False),
        ([["petstore"]], False),
        ({"aud": "petstore"}, False),
        (1, False),
    ],
)
def test_aud_is_a_string_or_list_that_must_contain_one_of_ours(realm, aud, accepted):
    token = realm.token(aud=aud)
    if accepted:
        assert validate_token(token, realm.policy)
    else:
        with pytest.raises(InvalidToken, match="aud"):
            validate_token(token, realm.policy)


@pytest.mark.parametrize(
    ("client_id", "accepted"),
    [("petstore", True), ("petstore-client", False), (None, False), (["petstore"], False)],
)
def test_without_aud_the_client_id_must_be_an_audience(realm, client_id, accepted):
    token = realm.token(aud=None, client_id=client_id)
    if accepted:
        assert validate_token(token, realm.policy)
    else:
        with pytest.raises(InvalidToken, match="aud"):
            validate_token(token, realm.policy)


def test_the_client_id_rule_never_applies_when_aud_is_present(realm):
    with pytest.raises(InvalidToken, match="aud"):
        validate_token(realm.token(aud="other", client_id="petstore"), realm.policy)


# --- exp, nbf, iat and the leeway (D3-D5, D7) --------------------------------------------


def test_exp_is_required(realm):
    with pytest.raises(InvalidToken, match="no exp"):
        validate_token(realm.token(exp=None), realm.policy)


def test_exp_is_compared_with_the_leeway_at_the_boundary():
    check_time_claims({"exp": 1000}, leeway=60, now=1059.9)
    with pytest.raises(InvalidToken, match="expired"):
        check_time_claims({"exp": 1000}, leeway=60, now=1060)


def test_a_cached_token_is_still_refused_once_it_expires(realm, clock):
    issued = int(clock.time())
    token = realm.token(exp=issued + 2, iat=issued, nbf=issued)
    server = make_realm(realm.keys, leeway=0, server_id=900_301).server
    policy = make_policy(server)
    verified = validate_token(token, policy)
    clock.advance(1.9)
    assert validate_token(token, policy) is verified  # the cached verdict
    clock.advance(0.1)
    with pytest.raises(InvalidToken, match="expired"):
        validate_token(token, policy)


def test_nbf_is_checked_with_the_leeway():
    check_time_claims({"exp": 5000, "nbf": 1050}, leeway=60, now=1000)
    with pytest.raises(InvalidToken, match="nbf"):
        check_time_claims({"exp": 5000, "nbf": 1061}, leeway=60, now=1000)


def test_a_future_nbf_is_refused_end_to_end(realm):
    with pytest.raises(InvalidToken, match="nbf"):
        validate_token(realm.token(nbf=now() + 3600), realm.policy)


def test_iat_in_the_future_is_refused():
    check_time_claims({"exp": 5000, "iat": 1060}, leeway=60, now=1000)
    with pytest.raises(InvalidToken, match="iat"):
        check_time_claims({"exp": 5000, "iat": 1061}, leeway=60, now=1000)


def test_a_token_issued_tomorrow_is_refused_end_to_end(realm):
    with pytest.raises(InvalidToken, match="iat"):
        validate_token(realm.token(iat=now() + 86400), realm.policy)


@pytest.mark.parametrize(("leeway", "accepted"), [(0, False), (5, False), (60, True)])
def test_the_leeway_is_the_servers_setting(rsa_key, leeway, accepted):
    realm = make_realm([rsa_key], leeway=leeway, server_id=900_310 + leeway)
    token = realm.token(exp=now() - 10)
    if accepted:
        assert validate_token(token, realm.policy)
    else:
        with pytest.raises(InvalidToken, match="expired"):
            validate_token(token, realm.policy)


def test_the_leeway_is_kept_small():
    server = AuthorizationServer(name="x", issuer="https://idp.example.com", leeway_seconds=301)
    with pytest.raises(ValidationError, match="300 seconds"):
        server.full_clean()


# --- Numeric dates (D6) ------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    "value_text",
    [
        '"9999999999"',
        "true",
        "false",
        "null",
        "[1]",
        "{}",
        "1e400",
        "-1e400",
        "1" + "0" * 400,
        "9" * 4000,
    ],
    ids=[
        "string",
        "true",
        "false",
        "null",
        "list",
        "object",
        "1e400",
        "-1e400",
        "1e400-int",
        "4000-digits",
    ],
)
def test_numeric_dates_must_be_finite_json_numbers(realm, rsa_key, claim, value_text):
    claims = realm.claims(**{claim: None})
    if claim != "exp":
        claims["exp"] = now() + 600
    text = sign_raw(
        rsa_key,
        {"alg": "RS256", "kid": "rsa-1"},
        json.dumps(claims)[:-1] + f', "{claim}": {value_text}}}',
    )
    with pytest.raises(InvalidToken, match=claim):
        validate_token(text, realm.policy)


def test_numeric_dates_may_be_integers_or_floats(realm):
    assert validate_token(realm.token(exp=now() + 600.5, iat=float(now())), realm.policy)


# --- typ (D8) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typ", "accepted"),
    [
        ("at+jwt", True),
        ("AT+JWT", True),
        ("application/at+jwt", True),
        ("Application/AT+JWT", True),
        ("JWT", False),
        ("jwt", False),
        ("at+jwt ", False),
        (None, False),
        (["at+jwt"], False),
    ],
)
def test_a_server_requiring_at_jwt_checks_the_header_typ(rsa_key, typ, accepted):
    realm = make_realm([rsa_key], required_typ="at+jwt", server_id=900_801)
    token = realm.token(header={"typ": typ})
    if accepted:
        assert validate_token(token, realm.policy)
    else:
        with pytest.raises(InvalidToken, match="token type"):
            validate_token(token, realm.policy)


def test_the_typ_claim_in_the_payload_does_not_count(rsa_key):
    realm = make_realm([rsa_key], required_typ="at+jwt", server_id=900_802)
    with pytest.raises(InvalidToken, match="token type"):
        validate_token(realm.token(header={"typ": "JWT"}, typ="at+jwt"), realm.policy)


def test_an_external_server_without_required_typ_accepts_keycloak_style_jwt(realm):
    assert validate_token(realm.token(header={"typ": "JWT"}), realm.policy)


def test_our_own_issuer_always_requires_at_jwt(published):
    internal = AuthorizationServer.objects.create(
        name="Gatekeep", kind="internal", issuer="https://gatekeep.example.com", required_typ=""
    )
    IdentifyAndAuthorizePolicy.objects.get(api=published.api).authorization_servers.add(internal)
    config = build_config("test")
    policy = config.apis[("petstore", "v1")].policy
    assert policy.servers_by_issuer[internal.issuer].required_typ == "at+jwt"
    assert policy.servers_by_issuer[published.idp.issuer].required_typ == ""


# --- Scopes (D9) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "status"),
    [
        ({"scope": "pets:read"}, 200),
        ({"scope": "other pets:read more"}, 200),
        ({"scope": None, "scp": ["pets:read"]}, 200),
        ({"scope": None, "scp": "pets:read other"}, 200),
        ({"scope": "pets:read:extra"}, 403),
        ({"scope": "PETS:READ"}, 403),
        ({"scope": ""}, 403),
        ({"scope": None}, 403),
        ({"scope": ["pets:read"]}, 401),
        ({"scope": None, "scp": [1]}, 401),
    ],
)
def test_the_routes_scopes_must_be_a_subset_of_the_tokens(published, claims, status):
    response = published.get("/pets", published.token(**claims))
    assert response.status_code == status, response.text


def test_policy_scopes_add_to_route_scopes(published):
    policy = IdentifyAndAuthorizePolicy.objects.get(api=published.api)
    policy.required_scopes = ["petstore:use"]
    policy.save()
    published.gateway_wait_for_reload()
    refused = published.get("/pets", published.token(scope="pets:read"))
    assert refused.status_code == 403
    assert 'scope="petstore:use"' in refused.headers["WWW-Authenticate"]
    assert (
        published.get("/pets", published.token(scope="pets:read petstore:use")).status_code == 200
    )


# --- Claims forwarded as headers (D10) ---------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["a\r\nX-Admin: 1", "a\nb", "a\rb", "nul\x00", "tab\there", "del\x7f", "é\u2028\U0001f600"],
)
def test_claim_header_values_are_printable_ascii(value):
    encoded = claim_header_value(value)
    assert encoded.isascii()
    assert all(32 <= ord(char) < 127 for char in encoded), encoded


def test_claim_header_values_are_capped():
    assert len(claim_header_value("x" * 10_000)) == MAX_CLAIM_HEADER_LENGTH
    assert claim_header_value({"nested": "object"}) is None
    assert claim_header_value(["list"]) is None
    assert claim_header_value(True) is None


def test_forwarded_claims_and_gateway_headers_cannot_be_forged(published):
    response = published.get(
        "/pets",
        published.token(email="a@example.com\r\nX-Admin: 1", sub="svc\r\nX-Gateway-Application: x"),
        headers={
            "X-Gateway-Application": "admin",
            "X-Gateway-Subject": "root",
            "X_Gateway_Subject": "root",
            "X-User-Email": "spoofed@example.com",
        },
    )
    assert response.status_code == 200
    received = published.upstream.last["header_list"]
    by_name: dict[str, list[str]] = {}
    for name, value in received:
        by_name.setdefault(name.lower(), []).append(value)
    assert by_name["x-gateway-application"] == ["Petstore client"]
    assert by_name["x-gateway-subject"] == ["svc%0D%0AX-Gateway-Application: x"]
    assert by_name["x-user-email"] == ["a@example.com%0D%0AX-Admin: 1"]
    assert "x-admin" not in by_name
    assert "x-gateway-subject" not in {n.lower() for n, _ in received if "_" in n}


def test_a_configured_claim_header_is_dropped_when_the_token_lacks_the_claim(published):
    response = published.get(
        "/pets", published.token(), headers={"X-User-Email": "spoofed@example.com"}
    )
    assert response.status_code == 200
    assert "x-user-email" not in published.upstream.last["headers"]
