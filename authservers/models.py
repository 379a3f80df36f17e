from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from authservers.choices import (
    DAY,
    DEFAULT_ALGORITHMS,
    MAX_STALE_SECONDS,
    MAX_TOKEN_LIFETIME_SECONDS,
    ServerKind,
)
from authservers.validation import validate_server_config
from authservers.validators import validate_algorithms, validate_issuer_url


def default_algorithms() -> list[str]:
    return list(DEFAULT_ALGORITHMS)


class AuthorizationServer(models.Model):
    """An issuer whose tokens APIs may trust: the gateway itself or an OpenID provider."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=10, choices=ServerKind.choices, default=ServerKind.EXTERNAL)
    issuer = models.CharField(
        max_length=500,
        unique=True,
        validators=[validate_issuer_url],
        help_text="Must equal the tokens' iss claim exactly.",
    )
    discovery_url = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_issuer_url],
        help_text="Defaults to the issuer + /.well-known/openid-configuration.",
    )
    jwks_uri = models.CharField(
        max_length=500,
        blank=True,
        validators=[validate_issuer_url],
        help_text="Set it to skip discovery.",
    )
    public_certificate = models.TextField(
        blank=True, help_text="PEM certificate or public key, for issuers without a JWKS."
    )
    allowed_algorithms = models.JSONField(
        default=default_algorithms, validators=[validate_algorithms]
    )
    leeway_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MaxValueValidator(300, "Keep the leeway at 300 seconds or less.")],
    )
    jwks_refresh_seconds = models.PositiveIntegerField(
        default=300,
        validators=[
            MinValueValidator(30, "Refresh at most every 30 seconds."),
            MaxValueValidator(DAY, "Refresh at least once a day (86400 seconds)."),
        ],
    )
    max_stale_seconds = models.PositiveIntegerField(
        default=86400,
        validators=[
            MaxValueValidator(
                MAX_STALE_SECONDS, "Keep stale keys at most 30 days (2592000 seconds)."
            )
        ],
    )
    required_typ = models.CharField(
        max_length=50, blank=True, help_text="Required JOSE header typ; blank accepts any."
    )
    # GATEWAY_MAX_TOKEN_LIFETIME_SECONDS (at most MAX_TOKEN_LIFETIME_SECONDS) caps it further.
    token_lifetime_seconds = models.PositiveIntegerField(
        default=3600,
        validators=[
            MaxValueValidator(
                MAX_TOKEN_LIFETIME_SECONDS,
                "Keep token lifetimes at most 30 days (2592000 seconds).",
            ),
        ],
    )
    default_audience = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        # Beyond add/change/delete/view; accounts/roles.py says which role holds it.
        permissions = [("refresh_jwks", "Can refresh an authorization server's keys now")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        stored_kind = None
        if self.pk is not None:
            stored = type(self).objects.filter(pk=self.pk).values_list("kind", flat=True)
            stored_kind = stored.first()
        validate_server_config(self, stored_kind)

    @property
    def effective_discovery_url(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"


class JwksSnapshot(models.Model):
    """The last good key set of a server; a failed fetch records an error but keeps the keys."""

    server = models.OneToOneField(
        AuthorizationServer, on_delete=models.CASCADE, related_name="jwks_snapshot"
    )
    keys = models.JSONField(default=list)
    version = models.CharField(max_length=64, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    etag = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    skipped_keys = models.JSONField(default=list, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # The documents as the server last served them (fetch sizes are capped), for the console.
    discovery_document = models.JSONField(null=True, blank=True)
    jwks_document = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return f"JWKS of {self.server}"

    @property
    def key_ids(self) -> list[str]:
        return [key.get("kid", "") for key in self.keys]


class SigningKeyState(models.TextChoices):
    NEXT = "next", "Next (published, not signing yet)"
    ACTIVE = "active", "Active (signing)"
    RETIRED = "retired", "Retired (published until its tokens expire)"
    REVOKED = "revoked", "Revoked (withdrawn at once, private key destroyed)"


class SigningAlgorithm(models.TextChoices):
    RS256 = "RS256", "RS256 (RSA 2048)"
    ES256 = "ES256", "ES256 (ECDSA P-256)"


class SigningKey(models.Model):
    """A key the internal issuer signs access tokens with; only its public half leaves the DB."""

    server = models.ForeignKey(
        AuthorizationServer, on_delete=models.CASCADE, related_name="signing_keys"
    )
    kid = models.CharField(max_length=100, unique=True, editable=False)
    alg = models.CharField(
        max_length=5, choices=SigningAlgorithm.choices, default=SigningAlgorithm.RS256
    )
    # Fernet token of the PKCS#8 PEM (authservers.signing); never shown, logged or audited.
    private_key = models.TextField(editable=False)
    public_jwk = models.JSONField(editable=False)
    state = models.CharField(
        max_length=7, choices=SigningKeyState.choices, default=SigningKeyState.NEXT
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    # Fixed at retirement (retired_at + token lifetime + leeway), so a later change
    # of the server's lifetime cannot unpublish a key whose tokens still verify.
    published_until = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["server", "-created_at"]
        # Keys are made by rotation only: no add/change/delete, two verbs instead
        # (accounts/roles.py says which role holds them).
        default_permissions = ("view",)
        permissions = [
            ("rotate_signingkey", "Can rotate signing keys"),
            ("revoke_signingkey", "Can revoke a signing key at once"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["server"],
                condition=models.Q(state="active"),
                name="signing_key_one_active_per_server",
            ),
            models.UniqueConstraint(
                fields=["server"],
                condition=models.Q(state="next"),
                name="signing_key_one_next_per_server",
            ),
        ]
        # published_jwks() and rotation select a server's keys by state.
        indexes = [models.Index(fields=["server", "state"], name="signing_key_server_state")]

    def __str__(self) -> str:
        return f"{self.kid} ({self.alg}, {self.state})"


class KeySighting(models.Model):
    """A key the gateway has seen in a server's key set: when first and last, and its shape.

    Written by every key refresh (authservers/key_history.py); kept after the key
    leaves the set, so the console can say when a key came and went.
    """

    server = models.ForeignKey(
        AuthorizationServer, on_delete=models.CASCADE, related_name="key_sightings"
    )
    kid = models.CharField(max_length=200)
    alg = models.CharField(max_length=20, blank=True)
    kty = models.CharField(max_length=10, blank=True)
    size = models.PositiveIntegerField(null=True, blank=True)
    use = models.CharField(max_length=10, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["server", "-last_seen", "kid"]
        constraints = [
            models.UniqueConstraint(fields=["server", "kid"], name="key_sighting_unique_kid")
        ]

    def __str__(self) -> str:
        return f"{self.kid} of {self.server}"


class JwksFetchFailure(models.Model):
    """One failed key refresh of a server; the newest JWKS_FAILURE_HISTORY are kept."""

    server = models.ForeignKey(
        AuthorizationServer, on_delete=models.CASCADE, related_name="fetch_failures"
    )
    at = models.DateTimeField()
    error = models.TextField()

    class Meta:
        ordering = ["server", "-at", "-id"]
        # The server page lists a server's newest failures.
        indexes = [models.Index(fields=["server", "-at"], name="jwks_failure_server_at")]

    def __str__(self) -> str:
        return f"{self.server} at {self.at:%Y-%m-%d %H:%M:%S}: {self.error[:60]}"
