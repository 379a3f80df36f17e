"""Signing keys in tests: rotation lets a next key sign only once it has been published
for GATEWAY_JWKS_MAX_AGE_SECONDS (issue 20); tests that rotate without waiting backdate it."""

from datetime import timedelta

from django.conf import settings
from django.db.models import F

from authservers.models import AuthorizationServer, SigningKey
from authservers.signing import FETCH_MARGIN_SECONDS


def publish_next_key_long_ago(server: AuthorizationServer) -> None:
    """As if the server's keys had been published one JWKS cache lifetime earlier, so the
    next rotation may let its next key sign. Every key moves, so their order (which decides
    the algorithm chosen last) stays."""
    SigningKey.objects.filter(server=server).update(
        created_at=F("created_at")
        - timedelta(seconds=settings.GATEWAY_JWKS_MAX_AGE_SECONDS + FETCH_MARGIN_SECONDS)
    )
