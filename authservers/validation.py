"""The rules of an authorization server's settings: AuthorizationServer.clean() runs them."""

from django.conf import settings
from django.core.exceptions import ValidationError

from authservers.choices import ServerKind
from authservers.jwks import KeyRejected, jwk_from_pem
from authservers.validators import validate_issuer_url
from core.durations import human_duration
from core.outbound_policy import check_url


def validate_server_config(server, stored_kind: str | None = None) -> None:
    """Every rule of a server's settings; `stored_kind` is its kind as saved, if it was."""
    errors = {}
    if stored_kind is not None and server.kind != stored_kind:
        # Tokens, keys and policies were set up for one kind; switching would strand them.
        errors["kind"] = [
            f"The kind of an authorization server is fixed when it is created (this one is "
            f"{stored_kind}); create a new server instead."
        ]
    if server.public_certificate.strip():
        try:
            jwk_from_pem(server.public_certificate)
        except KeyRejected as exc:
            errors["public_certificate"] = [str(exc)]
    # The bounds of each duration are its field's validators (authservers/models.py).
    if server.max_stale_seconds < server.jwks_refresh_seconds:
        errors["max_stale_seconds"] = ["Must be at least the refresh interval."]
    if server.kind == ServerKind.EXTERNAL:
        errors.update(_outbound_errors(server))
    if server.kind == ServerKind.INTERNAL and server.token_lifetime_seconds is not None:
        limit = settings.GATEWAY_MAX_TOKEN_LIFETIME_SECONDS
        if not 1 <= server.token_lifetime_seconds <= limit:
            errors["token_lifetime_seconds"] = [
                f"Must be between 1 and {limit} seconds ({human_duration(limit)}): "
                "GATEWAY_MAX_TOKEN_LIFETIME_SECONDS caps the lifetime of access tokens."
            ]
    if errors:
        raise ValidationError(errors)


# The URLs the gateway fetches from an external server (the internal one is the
# gateway itself and is never fetched), with the name its error messages use.
OUTBOUND_FIELDS = (
    ("issuer", "issuer"),
    ("discovery_url", "discovery URL"),
    ("jwks_uri", "JWKS URI"),
)


def _outbound_errors(server) -> dict[str, list[str]]:
    errors = {}
    for field, purpose in OUTBOUND_FIELDS:
        value = getattr(server, field)
        try:
            validate_issuer_url(value)  # a malformed URL is the field validator's message
        except ValidationError:
            continue
        try:
            check_url(value, purpose)
        except ValidationError as exc:
            errors[field] = exc.messages
    return errors
