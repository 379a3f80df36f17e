"""The public half of the internal issuer's signing keys, as its JWKS publishes them."""

from django.db.models import Q

from authservers.jwks import KeyRejected, public_signing_key
from authservers.models import AuthorizationServer, SigningKey, SigningKeyState
from core import clock

# Active first: verifiers that try keys in order find the signing key at once.
_STATE_ORDER = {SigningKeyState.ACTIVE: 0, SigningKeyState.NEXT: 1, SigningKeyState.RETIRED: 2}


def published_jwks(server: AuthorizationServer) -> list[dict]:
    """Public JWKs of the active, next and still-needed retired keys, active first."""
    keys = SigningKey.objects.filter(server=server).filter(
        Q(state__in=[SigningKeyState.ACTIVE, SigningKeyState.NEXT])
        | Q(state=SigningKeyState.RETIRED, published_until__gt=clock.now())
    )
    ordered = sorted(keys, key=lambda key: (_STATE_ORDER[key.state], -key.created_at.timestamp()))
    if not ordered:
        raise KeyRejected("The internal issuer has no signing keys yet.")
    # public_signing_key() keeps only public members: a last guard against leaking `d`.
    return [public_signing_key(key.public_jwk) for key in ordered]
