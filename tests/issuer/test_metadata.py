"""Published metadata: the JWKS and the discovery document any third party reads."""

import requests

from authservers import http
from authservers.jwks import parse_jwks
from authservers.keysets import discover_jwks_uri
from authservers.models import SigningKey
from authservers.signing import ensure_signing_keys

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def test_the_jwks_has_public_keys_only_and_says_how_long_to_cache_it(issuer):
    ensure_signing_keys(issuer.server)

    response = requests.get(f"{issuer.url}/oauth2/jwks", timeout=10)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    keys = response.json()["keys"]
    assert [key["kid"] for key in keys] == [
        SigningKey.objects.get(server=issuer.server, state=state).kid
        for state in ("active", "next")
    ]
    for key in keys:
        assert set(key) == {"kty", "kid", "use", "alg", "n", "e"}
        assert not PRIVATE_MEMBERS & set(key)
        assert key["use"] == "sig"
    # The gateway's own checks for external key sets accept every key.
    parsed = parse_jwks(response.json(), max_keys=10)
    assert parsed.skipped == []
    assert len(parsed.keys) == 2


def test_the_cache_lifetime_is_a_setting(issuer, settings):
    settings.GATEWAY_JWKS_MAX_AGE_SECONDS = 60

    response = requests.get(f"{issuer.url}/oauth2/jwks", timeout=10)

    assert response.headers["Cache-Control"] == "public, max-age=60"


def test_before_the_first_token_the_key_set_is_empty(issuer):
    response = requests.get(f"{issuer.url}/oauth2/jwks", timeout=10)

    assert response.status_code == 200
    assert response.json() == {"keys": []}


def test_the_discovery_document_describes_the_issuer(issuer):
    ensure_signing_keys(issuer.server)

    response = requests.get(f"{issuer.url}/.well-known/openid-configuration", timeout=10)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    document = response.json()
    assert document["issuer"] == issuer.url
    assert document["token_endpoint"] == f"{issuer.url}/oauth2/token"
    assert document["authorization_endpoint"] == f"{issuer.url}/oauth2/authorize"
    assert document["jwks_uri"] == f"{issuer.url}/oauth2/jwks"
    assert document["grant_types_supported"] == [
        "authorization_code",
        "client_credentials",
        "password",
        "refresh_token",
    ]
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document["access_token_signing_alg_values_supported"] == ["RS256"]
    assert document["scopes_supported"] == ["email", "openid", "pets:read", "pets:write", "profile"]
    # Its endpoints are real: the token endpoint and JWKS it names answer.
    assert requests.get(document["jwks_uri"], timeout=10).json()["keys"]
    token = requests.post(
        document["token_endpoint"],
        data={"grant_type": "client_credentials"},
        auth=(issuer.client_id, issuer.secret),
        timeout=10,
    )
    assert token.status_code == 200


def test_another_gateway_could_trust_this_issuer_through_discovery(issuer):
    # The external-server path (discovery, issuer check) accepts the document as is.
    try:
        assert discover_jwks_uri(issuer.server) == f"{issuer.url}/oauth2/jwks"
    finally:
        # Its pooled keep-alive connection would pin a gateway thread and its DB session.
        http._session.close()
