"""Which algorithm and which key verify a token: never the token's own choice.

The allowed algorithms come from the authorization server, never from the token (no
`none`, no HMAC); each key verifies with exactly one algorithm; only the keys of the
claimed, trusted issuer are tried; `kid` is a short string and `jku`, `x5u`, `jwk` and
`x5c` are ignored; a hostile JWKS keeps only clean signing keys; a static certificate
fixes the algorithm and never becomes an HMAC secret. The known JWT attacks of the
OWASP JWT cheat sheet end the module. The rules are C1-C6 and F of docs/security.md,
Token rules.
"""

import hashlib
import json
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from authservers.jwks import KeyRejected, algorithms_for_key, parse_jwks, public_signing_key
from authservers.keystore import key_store
from authservers.models import AuthorizationServer
from authservers.services import refresh_jwks
from proxy.errors import InvalidToken
from proxy.tokens import decode_segment, validate_token
from tests.security.forge import (
    b64url,
    certificate_der_b64,
    hs256,
    public_key_forms,
    unsigned,
)
from tests.security.realm import call_in_thread, make_policy, make_realm, make_server
from tests.tokens import certificate_pem, new_ec_key, new_rsa_key, sign, sign_raw

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def realm(rsa_key, ec_key):
    return make_realm([rsa_key, ec_key])


# --- Algorithms come from the server (C1) ------------------------------------------------


def test_the_allowed_algorithms_come_from_the_server_not_the_token(rsa_key, ec_key, db):
    realm = make_realm([rsa_key, ec_key], allowed=["ES256"])
    assert validate_token(realm.token(key=ec_key), realm.policy).claims["sub"] == "user-42"
    with pytest.raises(InvalidToken, match="RS256 is not allowed"):
        validate_token(realm.token(key=rsa_key), realm.policy)


@pytest.mark.parametrize("alg", ["none", "NONE", "HS256", "HS512", "RSA-OAEP", "dir", "ES256K"])
def test_none_hmac_and_non_signature_algorithms_are_never_accepted(realm, alg, db):
    token = unsigned({"alg": alg, "kid": "rsa-1"}, realm.claims(), b"signature")
    with pytest.raises(InvalidToken):
        validate_token(token, realm.policy)


def test_hmac_cannot_be_configured_for_a_server(db):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        AuthorizationServer(
            name="x", issuer="https://idp.example.com", allowed_algorithms=["RS256", "HS256"]
        ).full_clean()


def test_the_proxy_never_hands_a_token_to_jwcrypto_jwt():
    # Tokens are parsed by proxy.tokens and verified by proxy.signatures; a jwt.JWT(...)
    # call anywhere in the request path would bring back jwcrypto's defaults.
    for path in (ROOT / "proxy").glob("*.py"):
        source = path.read_text()
        assert not re.search(r"\bjwt\.JWT\(|JWT\(\s*jwt=", source), path.name


# --- One algorithm per key (C2) ----------------------------------------------------------


def test_a_key_is_used_with_exactly_one_algorithm():
    rsa = {"kty": "RSA", "n": "x", "e": "AQAB"}
    allowed = {"RS256", "RS384", "PS256", "ES256"}
    assert algorithms_for_key({**rsa, "alg": "PS256"}, allowed) == {"PS256"}
    assert algorithms_for_key(rsa, allowed) == {"RS256"}  # alg-less RSA: RS256 only
    assert algorithms_for_key(rsa, {"PS256", "ES256"}) == {"PS256"}
    assert algorithms_for_key({"kty": "EC", "crv": "P-256"}, allowed) == {"ES256"}
    assert algorithms_for_key({"kty": "EC", "crv": "P-384"}, allowed) == frozenset()
    assert algorithms_for_key({"kty": "EC", "crv": "P-256", "alg": "ES384"}, allowed) == frozenset()
    assert algorithms_for_key({"kty": "EC", "crv": ["P-256"]}, allowed) == frozenset()


def test_a_jwk_marked_ps256_does_not_verify_rs256(db):
    marked = new_rsa_key("marked", alg="PS256")
    realm = make_realm([marked])
    assert validate_token(realm.token(alg="PS256"), realm.policy)
    with pytest.raises(InvalidToken, match="not used with RS256"):
        validate_token(realm.token(alg="RS256"), realm.policy)


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256"])
def test_an_alg_less_rsa_key_verifies_rs256_only(alg, db):
    plain = new_rsa_key("plain", alg=None)
    realm = make_realm([plain])
    assert validate_token(realm.token(alg="RS256"), realm.policy)
    with pytest.raises(InvalidToken, match=f"not used with {alg}"):
        validate_token(realm.token(alg=alg), realm.policy)


# --- Only the claimed issuer's keys (C3) -------------------------------------------------


def test_only_the_claimed_issuers_keys_are_tried(db):
    key_a, key_b, key_b_same_kid = new_rsa_key("a-1"), new_rsa_key("b-1"), new_rsa_key("a-1")
    server_a = make_server([key_a], issuer="https://a.example", server_id=900_101)
    server_b = make_server([key_b, key_b_same_kid], issuer="https://b.example", server_id=900_102)
    policy = make_policy(server_a, server_b)
    claims_a = {"iss": "https://a.example", "aud": "petstore", "exp": 9_999_999_999}
    assert validate_token(sign(key_a, claims_a), policy).server is server_a
    for key in (key_b, key_b_same_kid):
        with pytest.raises(InvalidToken):
            validate_token(sign(key, claims_a), policy)
    without_kid = sign(key_b_same_kid, claims_a, {"kid": None})
    with pytest.raises(InvalidToken, match="signature"):
        validate_token(without_kid, policy)


def test_an_issuer_the_policy_does_not_trust_is_refused_before_any_key(realm):
    other = new_rsa_key("rsa-1")
    token = sign(other, {"iss": "https://other.example", "aud": "petstore", "exp": 9_999_999_999})
    with pytest.raises(InvalidToken, match="not trusted"):
        validate_token(token, realm.policy)


# --- The kid and keys named by the token (C4) --------------------------------------------


@pytest.mark.parametrize(
    "kid", [7, 1.5, True, {"a": 1}, ["rsa-1"], "", "k" * 257], ids=lambda v: type(v).__name__
)
def test_kid_must_be_a_short_string(realm, rsa_key, kid, db):
    token = sign_raw(rsa_key, {"alg": "RS256", "kid": kid}, realm.claims())
    with pytest.raises(InvalidToken, match="kid must be a short string"):
        validate_token(token, realm.policy)


def test_an_unknown_kid_reaches_no_sql_and_costs_no_query_once_rate_limited(published, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    # Every thread's SQL: the refresh runs in a worker thread, off the event loop.
    executed = []
    original = CursorWrapper._execute

    def record(self, sql, params, *rest):
        executed.append(f"{sql} {params}")
        return original(self, sql, params, *rest)

    monkeypatch.setattr(CursorWrapper, "_execute", record)
    kid = "x' UNION SELECT '1';--"
    token = published.token(header={"kid": kid})
    path = "/gateway/petstore/v1/pets"
    assert call_in_thread(path, published.token()).startswith("200")  # warm up
    fetches = published.idp.hits
    executed.clear()
    with CaptureQueriesContext(connection) as loop_queries:
        assert call_in_thread(path, token).startswith("401")  # triggers the one refresh
    assert published.idp.hits == fetches + 1, "the unknown kid should have caused one refresh"
    assert executed, "the refresh stored the fetched key set"
    assert not [sql for sql in executed if "UNION" in sql or kid in sql]
    assert loop_queries.captured_queries == []  # none of it on the event loop
    executed.clear()
    assert call_in_thread(path, token).startswith("401")
    assert executed == []  # rate-limited: no fetch, no query anywhere
    assert published.idp.hits == fetches + 1


def test_jku_x5u_jwk_and_x5c_are_never_used(realm, db):
    attacker = new_rsa_key("rsa-1")
    jwk = attacker.export_public(as_dict=True)
    for header in (
        {"jku": "http://127.0.0.1:9/jwks"},
        {"x5u": "http://127.0.0.1:9/cert"},
        {"jwk": jwk},
        {"jwk": jwk, "kid": None},
        {"x5c": [certificate_der_b64(attacker)]},
    ):
        with pytest.raises(InvalidToken, match="signature"):
            validate_token(realm.token(key=attacker, header=header), realm.policy)


# --- Hostile key sets (C5) ---------------------------------------------------------------


def test_a_hostile_jwks_keeps_only_clean_signing_keys(rsa_key, ec_key):
    good_rsa, good_ec = rsa_key.export_public(as_dict=True), ec_key.export_public(as_dict=True)
    small = new_rsa_key("small", size=1024).export_public(as_dict=True)
    private = new_rsa_key("private").export_private(as_dict=True)
    twin = new_rsa_key("twin").export_public(as_dict=True)
    document = {
        "keys": [
            good_rsa,
            good_ec,
            {**new_rsa_key("enc").export_public(as_dict=True), "use": "enc"},
            {**new_rsa_key("ops").export_public(as_dict=True), "key_ops": ["encrypt"]},
            {
                **new_rsa_key("mixed").export_public(as_dict=True),
                "use": "enc",
                "key_ops": ["verify"],
            },
            small,
            private,
            twin,
            {**new_rsa_key("twin").export_public(as_dict=True)},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
            {"kty": "EC", "kid": "weird-crv", "crv": ["P-256"], "x": "a", "y": "b"},
            {"kty": ["RSA"], "kid": "weird-kty"},
            {**good_rsa, "kid": "weird-alg", "alg": ["RS256"]},
            {**good_ec, "kid": "wrong-alg", "alg": "RS256"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            "not an object",
            {**good_rsa, "kid": {"nested": 1}},
        ]
    }
    parsed = parse_jwks(document, max_keys=100)
    assert [key["kid"] for key in parsed.keys] == ["rsa-1", "ec-1"]
    assert all("d" not in key for key in parsed.keys)
    reasons = " | ".join(parsed.skipped)
    for expected in (
        "'enc': not a signing key",
        "'ops': key_ops does not allow verify",
        "'mixed': not a signing key",
        "'small': RSA key of 1024 bits",
        "'private': private key material",
        "'twin': the kid appears more than once",
        "'hmac': unsupported key type",
        "'weird-kty': unsupported key type",
        "'weird-alg': unsupported alg",
        "'wrong-alg': alg 'RS256' does not fit a EC key",
        "'broken': the key does not parse",
        "key #15: not a JSON object",
    ):
        assert expected in reasons, expected
    # Every other key is skipped with a reason; the two twins share one.
    assert len(parsed.skipped) == len(document["keys"]) - 2 - 1
    assert "'weird-crv'" in reasons


def test_a_jwks_with_too_many_keys_is_refused_as_a_whole(rsa_key):
    with pytest.raises(KeyRejected, match="at most 3"):
        parse_jwks({"keys": [rsa_key.export_public(as_dict=True)] * 4}, max_keys=3)


def test_a_hostile_jwks_at_the_idp_leaves_the_refresh_returning_normally(idp, rsa_key, db):
    idp.keys = [rsa_key]
    original = idp.public_keys
    idp.public_keys = lambda: [*original(), {"kty": "EC", "crv": [1]}, {"kty": {"x": 1}}]
    server = AuthorizationServer.objects.create(name="kc", issuer=idp.issuer)
    outcome = refresh_jwks(server)
    assert outcome.ok is True
    assert outcome.key_ids == ["rsa-1"]


# --- Static certificates (C6) ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_a_static_certificate_is_the_only_key_and_fixes_the_algorithm(kind, db):
    key = new_rsa_key("static", alg=None) if kind == "rsa" else new_ec_key("static")
    server = AuthorizationServer.objects.create(
        name="static",
        issuer="https://static.example.com",
        public_certificate=certificate_pem(key).decode(),
    )
    outcome = refresh_jwks(server)
    assert outcome.ok is True
    jwk = server.jwks_snapshot.keys[0]
    assert "alg" not in jwk
    expected = "RS256" if kind == "rsa" else "ES256"
    assert algorithms_for_key(jwk, set(server.allowed_algorithms)) == {expected}
    static = make_server([], issuer=server.issuer, server_id=server.pk, jwks=[jwk])
    policy = make_policy(static)
    claims = {"iss": server.issuer, "aud": "petstore", "exp": 9_999_999_999}
    key_store.forget()
    # The certificate carries no kid: tokens without one are matched by algorithm.
    assert validate_token(sign(key, claims, {"kid": None}, alg=expected), policy)
    for name, secret in public_key_forms(key).items() if kind == "rsa" else ():
        with pytest.raises(InvalidToken):
            validate_token(hs256({"alg": "HS256"}, claims, secret), policy)
        assert name


def test_the_pem_never_becomes_an_hmac_secret(db):
    key = new_rsa_key("static", alg=None)
    pem = certificate_pem(key)
    server = AuthorizationServer.objects.create(
        name="static", issuer="https://static.example.com", public_certificate=pem.decode()
    )
    refresh_jwks(server)
    assert all(stored["kty"] in {"RSA", "EC", "OKP"} for stored in server.jwks_snapshot.keys)
    static = make_server(
        [], issuer=server.issuer, server_id=server.pk, jwks=server.jwks_snapshot.keys
    )
    claims = json.dumps({"iss": server.issuer, "aud": "petstore", "exp": 9_999_999_999})
    for secret in (pem, pem.strip(), public_key_forms(key)["pem"]):
        with pytest.raises(InvalidToken, match="HS256 is not allowed"):
            validate_token(hs256({"alg": "HS256"}, claims, secret), make_policy(static))


def test_a_private_key_pasted_as_certificate_is_refused(db):
    from django.core.exceptions import ValidationError

    key = new_rsa_key("static")
    with pytest.raises(ValidationError, match="private key"):
        AuthorizationServer(
            name="static",
            issuer="https://static.example.com",
            public_certificate=key.export_to_pem(private_key=True, password=None).decode(),
        ).full_clean()
    with pytest.raises(KeyRejected):
        public_signing_key({**key.export_private(as_dict=True)})


# --- Known JWT attacks, OWASP JWT cheat sheet (F) ----------------------------------------


def test_alg_none_and_keys_supplied_by_the_token_are_refused(rsa_key, db):
    realm = make_realm([rsa_key])
    attacker = new_rsa_key("rsa-1")
    for token in (
        unsigned({"alg": "none"}, realm.claims()),
        realm.token(key=attacker, header={"jwk": attacker.export_public(as_dict=True)}),
        realm.token(key=attacker, header={"x5c": [certificate_der_b64(attacker)]}),
        realm.token(key=attacker, header={"jku": "https://attacker.example/jwks"}),
    ):
        with pytest.raises(InvalidToken):
            validate_token(token, realm.policy)


def test_no_hmac_secret_exists_to_be_guessed(rsa_key, db):
    realm = make_realm([rsa_key])
    parsed = parse_jwks({"keys": [{"kty": "oct", "kid": "k", "k": b64url(b"s" * 64)}]}, 10)
    assert parsed.keys == []
    for alg in ("HS256", "HS384", "HS512"):
        with pytest.raises(InvalidToken, match="not allowed"):
            validate_token(
                unsigned({"alg": alg, "kid": "rsa-1"}, realm.claims(), b"x" * 32), realm.policy
            )


def test_an_ecdsa_twin_is_a_different_string_with_the_same_identity(db):
    """Why revocation must key on (iss, jti), never a hash of the token: (r, n-s) verifies too.

    Both spellings verify; they hash differently; they share iss and jti; and both
    stop verifying the moment their key leaves the key set.
    """
    key = new_ec_key("ec-twin")
    realm = make_realm([key], server_id=900_901)
    token = realm.token(alg="ES256", jti="one-jti")
    header, payload, signature = token.split(".")
    raw = decode_segment(signature)
    order = int("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)
    s = int.from_bytes(raw[32:], "big")
    twin = f"{header}.{payload}.{b64url(raw[:32] + (order - s).to_bytes(32, 'big'))}"
    assert hashlib.sha256(token.encode()).digest() != hashlib.sha256(twin.encode()).digest()
    first, second = validate_token(token, realm.policy), validate_token(twin, realm.policy)
    assert (first.claims["iss"], first.claims["jti"]) == (
        second.claims["iss"],
        second.claims["jti"],
    )
    revoked = make_realm([new_ec_key("other")], server_id=900_901)  # same server, key gone
    key_store.forget()
    for spelling in (token, twin):
        with pytest.raises(InvalidToken):
            validate_token(spelling, revoked.policy)
