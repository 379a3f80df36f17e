"""Token introspection (RFC 7662): what the issuer knows of a token it issued.

Access tokens are JWTs stored whole by DOT (looked up by their SHA-256, as DOT
does); a stored one is active while unexpired, its user active and its signing key
not revoked. Refresh tokens are opaque and active until used, revoked or expired.
Anything else, including tokens of other issuers, is {"active": false}.
"""

import base64
import calendar
import hashlib
import json

from django.utils import timezone
from jwcrypto import jwk, jws
from oauth2_provider.models import (
    get_access_token_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
)

from authservers.models import SigningKey, SigningKeyState

# The JWT's claims an introspection answer repeats (RFC 7662 §2.2 and RFC 9068).
_JWT_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope")


def own_jwt_claims(token: str) -> dict | None:
    """The claims of a JWT this issuer signed with a key it has not revoked; else None.

    Expiry is not checked here: the stored token's (or ID token's) row decides that.
    """
    parts = _jwt_parts(token)
    if parts is None:
        return None
    header, claims = parts
    key = (
        SigningKey.objects.filter(kid=str(header.get("kid", "")))
        .exclude(state=SigningKeyState.REVOKED)
        .first()
    )
    if key is None or header.get("alg") != key.alg:
        return None
    try:
        verified = jws.JWS()
        verified.deserialize(token)
        verified.verify(jwk.JWK(**key.public_jwk), alg=key.alg)
    except (jws.InvalidJWSObject, jws.InvalidJWSSignature, ValueError, TypeError):
        return None
    return claims


def _jwt_parts(token: str) -> tuple[dict, dict] | None:
    try:
        header, payload, _ = token.split(".")
        decoded = [
            json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
            for part in (header, payload)
        ]
    except (ValueError, TypeError):
        return None
    if not all(isinstance(part, dict) for part in decoded):
        return None
    return decoded[0], decoded[1]


def _user_active(user) -> bool:
    return user is None or getattr(user, "is_active", True)


def _access_token(token: str, checksum: str) -> dict | None:
    stored = (
        get_access_token_model()
        .objects.select_related("user", "application")
        .filter(token_checksum=checksum)
        .first()
    )
    if stored is None or stored.is_expired() or not _user_active(stored.user):
        return None
    # A revoked signing key takes its tokens with it (docs/security.md).
    claims = own_jwt_claims(token)
    if claims is None:
        return None
    answer = {name: claims[name] for name in _JWT_CLAIMS if name in claims}
    answer["token_type"] = "Bearer"
    if stored.user is not None:
        answer["username"] = stored.user.get_username()
    return answer


def _refresh_token(checksum: str) -> dict | None:
    stored = (
        get_refresh_token_model()
        .objects.select_related("user", "application")
        .filter(token_checksum=checksum, revoked__isnull=True)
        .first()
    )
    if stored is None or stored.application is None or not _user_active(stored.user):
        return None
    answer = {
        "client_id": stored.application.client_id,
        "token_type": "refresh_token",
        "iat": calendar.timegm(stored.created.utctimetuple()),
    }
    if stored.access_token is not None:
        answer["scope"] = stored.access_token.scope
    expire_delta = refresh_token_expire_timedelta()
    if expire_delta and stored.access_token is not None:
        # As DOT's validate_refresh_token: the access token's expiry plus the lifetime.
        expires = stored.access_token.expires + expire_delta
        if expires <= timezone.now():
            return None
        answer["exp"] = calendar.timegm(expires.utctimetuple())
    if stored.user is not None:
        answer["sub"] = str(stored.user.pk)
        answer["username"] = stored.user.get_username()
    return answer


def introspect(token: str, token_type_hint: str | None) -> dict | None:
    """The claims of an active token; None for anything inactive or unknown."""
    checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
    lookups = [_access_token_lookup(token, checksum), lambda: _refresh_token(checksum)]
    if token_type_hint == "refresh_token":
        lookups.reverse()
    for lookup in lookups:
        answer = lookup()
        if answer is not None:
            return answer
    return None


def _access_token_lookup(token: str, checksum: str):
    return lambda: _access_token(token, checksum)
