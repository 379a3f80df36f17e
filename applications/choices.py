from django.db import models


class ApplicationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class ClientType(models.TextChoices):
    """RFC 6749 §2.1: a confidential client keeps a secret; a public one (a browser or
    native app) cannot, has none and must use PKCE."""

    CONFIDENTIAL = "confidential", "Confidential (has a client secret)"
    PUBLIC = "public", "Public (no secret; PKCE required)"


class GrantType(models.TextChoices):
    """The grants the internal issuer serves; implicit, hybrid and device code never."""

    CLIENT_CREDENTIALS = "client_credentials", "Client credentials"
    AUTHORIZATION_CODE = "authorization_code", "Authorization code (with PKCE)"
    REFRESH_TOKEN = "refresh_token", "Refresh token"
    PASSWORD = "password", "Resource owner password"


# Grants a client that cannot keep a secret must never use: they authenticate the client only.
CONFIDENTIAL_ONLY_GRANTS = frozenset({GrantType.CLIENT_CREDENTIALS, GrantType.PASSWORD})
# Hosts an http:// redirect URI may name (RFC 8252 §7.3, native apps on loopback).
LOOPBACK_REDIRECT_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_REDIRECT_URIS = 20
MAX_REDIRECT_URI_LENGTH = 2000


def default_grant_types(client_type: str = ClientType.CONFIDENTIAL, redirect_uris=()) -> list[str]:
    """Grant types of an application created without naming any: every grant its client
    type and redirect URIs make usable (before issue 20 every application had all four)."""
    grants = [
        grant
        for grant in GrantType.values
        if not (client_type == ClientType.PUBLIC and grant in CONFIDENTIAL_ONLY_GRANTS)
    ]
    if not redirect_uris:
        grants.remove(GrantType.AUTHORIZATION_CODE)
    return grants
