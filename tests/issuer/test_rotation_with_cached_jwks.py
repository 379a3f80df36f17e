"""Issue 20, as a verifier sees it: one that caches the JWKS for its Cache-Control max-age
(as jose's remote key set and PyJWT's PyJWKClient do) and fetches it again only once that
copy has expired, never for an unknown kid, verifies every token the issuer signs while an
operator rotates the key as often as the gateway allows."""

import contextlib
from types import SimpleNamespace

import jwt
import jwt.api_jwk
import jwt.jwk_set_cache
import jwt.jwks_client
import requests
from jwt import PyJWKClient, PyJWS

from authservers.signing import (
    RotationTooSoon,
    ensure_signing_keys,
    issue_access_token,
    rotate_signing_key,
)

STEP = 5  # seconds between the operator's attempts, and between the verifiers' first fetches


def test_a_verifier_caching_the_jwks_for_its_max_age_verifies_every_token(
    clock, issuer, monkeypatch, settings
):
    settings.GATEWAY_JWKS_MAX_AGE_SECONDS = max_age = 60  # fewer steps than the default 300
    ensure_signing_keys(issuer.server)  # published now, with the next key
    jwks_url = f"{issuer.url}/oauth2/jwks"
    assert f"max-age={max_age}" in requests.get(jwks_url, timeout=10).headers["Cache-Control"]
    # PyJWKClient times its cache with time.monotonic(): let it read the test's clock.
    for module in (jwt.jwks_client, jwt.jwk_set_cache, jwt.api_jwk):
        monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=clock.time))

    def new_verifier() -> PyJWKClient:
        # Cached for max-age; an unknown kid triggers no fetch (a cooldown beyond the test).
        verifier = PyJWKClient(jwks_url, lifespan=max_age, cooldown_duration=10 * max_age)
        verifier.get_jwk_set()  # its first fetch, now
        return verifier

    def verify(verifier: PyJWKClient, token: str) -> None:
        key = verifier.get_signing_key_from_jwt(token)  # PyJWKClientError: no such kid
        PyJWS().decode(token, key.key, algorithms=[key.algorithm_name])

    verifiers: list[PyJWKClient] = []
    signers: list[str] = []
    for _ in range(3 * (max_age + 2 * STEP) // STEP):
        # A verifier that fetches at the worst moment: just before a rotation.
        verifiers.append(new_verifier())
        with contextlib.suppress(RotationTooSoon):  # the operator tries again later
            rotate_signing_key(issuer.server)
        token = issue_access_token(issuer.server, subject="svc", client_id=issuer.client_id)
        kid = jwt.get_unverified_header(token)["kid"]
        if not signers or signers[-1] != kid:
            signers.append(kid)
        for verifier in verifiers:
            verify(verifier, token)
        clock.advance(STEP)

    assert len(signers) >= 3  # the key did change: rotations were allowed, only never too soon
