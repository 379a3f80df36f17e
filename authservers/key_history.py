"""What the gateway has seen of each server's keys over time, for the console.

Every refresh records here (authservers/keysets.py): the keys of a good set as
sightings (first and last seen, algorithm, size), a failure as one row of a bounded
history. Nothing here is read on the proxy path.
"""

import base64
import logging

from django.conf import settings
from django.db import DatabaseError

from authservers.models import AuthorizationServer, JwksFetchFailure, KeySighting

logger = logging.getLogger(__name__)

CURVE_BITS = {"P-256": 256, "P-384": 384, "P-521": 521, "Ed25519": 256, "Ed448": 448}


def key_size(jwk: dict) -> int | None:
    """Bits of the key: the RSA modulus, the curve, or the HMAC secret."""
    kty = jwk.get("kty")
    if kty == "RSA":
        return _b64_bits(jwk.get("n"))
    if kty in ("EC", "OKP"):
        return CURVE_BITS.get(jwk.get("crv"))
    if kty == "oct":
        return _b64_bits(jwk.get("k"))
    return None


def _b64_bits(value) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return None
    return int.from_bytes(raw, "big").bit_length() if raw else None


def record_keys(server: AuthorizationServer, keys: list[dict], now) -> None:
    """Mark every key of a good set as seen now (created on first sight)."""
    try:
        for jwk in keys:
            kid = str(jwk.get("kid") or "")[:200]
            details = {
                "alg": str(jwk.get("alg") or "")[:20],
                "kty": str(jwk.get("kty") or "")[:10],
                "size": key_size(jwk),
                "use": str(jwk.get("use") or "")[:10],
            }
            updated = KeySighting.objects.filter(server=server, kid=kid).update(
                last_seen=now, **details
            )
            if not updated:
                KeySighting.objects.get_or_create(
                    server=server,
                    kid=kid,
                    defaults={"first_seen": now, "last_seen": now, **details},
                )
    except DatabaseError:
        logger.warning("Could not record the keys seen for %s", server.name)


def record_failure(server: AuthorizationServer, error: str, now) -> None:
    """Add a failure and drop all but the newest JWKS_FAILURE_HISTORY of this server."""
    try:
        JwksFetchFailure.objects.create(server=server, at=now, error=error[:1000])
        keep = settings.JWKS_FAILURE_HISTORY
        stale = JwksFetchFailure.objects.filter(server=server).order_by("-at", "-id")[keep:]
        JwksFetchFailure.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
    except DatabaseError:
        logger.warning("Could not record the failed key refresh of %s", server.name)
