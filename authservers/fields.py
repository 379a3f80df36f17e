"""The fields of an authorization server an admin edits in the console form and the REST API."""

SERVER_FIELDS = (
    "name",
    "kind",
    "issuer",
    "discovery_url",
    "jwks_uri",
    "public_certificate",
    "allowed_algorithms",
    "required_typ",
    "leeway_seconds",
    "jwks_refresh_seconds",
    "max_stale_seconds",
    "token_lifetime_seconds",
    "default_audience",
)
