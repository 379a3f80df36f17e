"""The proxy trusts the internal issuer without HTTP, through the same validation as any IdP."""

import json

import jwt
from jwcrypto import jws

from authservers import signing
from authservers.models import AuthorizationServer, JwksSnapshot, SigningKey
from authservers.signing import ensure_signing_keys
from tests.tokens import claims_for, sign


def sign_with_active_key(issuer, header: dict, claims: dict) -> str:
    key = SigningKey.objects.get(server=issuer.server, state="active")
    token = jws.JWS(json.dumps(claims).encode())
    token.add_signature(
        signing._private_jwk(key), alg=None, protected=json.dumps({"kid": key.kid} | header)
    )
    return token.serialize(compact=True)


def test_the_keys_come_from_the_database_not_from_http(issuer):
    token = issuer.token()["access_token"]

    assert issuer.call(token).status_code == 200
    assert issuer.server.jwks_uri == ""  # nothing to fetch: keys come from the snapshot
    snapshot = JwksSnapshot.objects.get(server=issuer.server)
    assert snapshot.key_ids == [
        SigningKey.objects.get(server=issuer.server, state=state).kid
        for state in ("active", "next")
    ]
    assert snapshot.last_error == ""


def test_a_key_the_gateway_has_not_seen_is_loaded_from_the_database_on_demand(issuer):
    assert issuer.call(issuer.token()["access_token"]).status_code == 200  # keys cached
    # A key that appears without a snapshot refresh (say, made by another node whose
    # cache write was lost): the unknown kid makes the key store rebuild from the DB.
    SigningKey.objects.filter(server=issuer.server).delete()
    JwksSnapshot.objects.filter(server=issuer.server).update(keys=[])
    fresh = signing._new_key(issuer.server, "RS256", "active")

    token = issuer.token()["access_token"]

    assert jwt.get_unverified_header(token)["kid"] == fresh.kid
    assert issuer.call(token).status_code == 200
    assert fresh.kid in JwksSnapshot.objects.get(server=issuer.server).key_ids


def test_internal_tokens_go_through_the_same_checks(issuer):
    ensure_signing_keys(issuer.server)
    claims = claims_for(issuer.url, client_id=issuer.client_id, aud="petstore", scope="pets:read")
    good = sign_with_active_key(issuer, {"alg": "RS256", "typ": "at+jwt"}, claims)
    assert issuer.call(good).status_code == 200

    id_token_typed = sign_with_active_key(issuer, {"alg": "RS256", "typ": "JWT"}, claims)
    expired = sign_with_active_key(
        issuer, {"alg": "RS256", "typ": "at+jwt"}, claims | {"exp": claims["iat"] - 120}
    )
    wrong_aud = sign_with_active_key(
        issuer, {"alg": "RS256", "typ": "at+jwt"}, claims | {"aud": "payroll"}
    )

    for token, check in ((id_token_typed, "typ"), (expired, "expired"), (wrong_aud, "aud")):
        response = issuer.call(token)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_token"
        assert check in response.json()["detail"]


def test_an_external_idp_cannot_impersonate_an_application_by_its_client_id(issuer, idp, rsa_key):
    external = AuthorizationServer.objects.create(name="IdP", kind="external", issuer=idp.issuer)
    issuer.api.policy.authorization_servers.add(external)
    token = sign(rsa_key, claims_for(idp.issuer, client_id=issuer.client_id, scope="pets:read"))

    response = issuer.call(token)

    assert response.status_code == 403
    assert response.json()["code"] == "application_not_authorized"
    assert issuer.call(issuer.token()["access_token"]).status_code == 200
