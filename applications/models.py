from django.core.exceptions import ValidationError
from django.db import models

from apis.models import Api
from apis.validators import validate_claims_object, validate_scope_list
from applications.choices import (
    CONFIDENTIAL_ONLY_GRANTS,
    ApplicationStatus,
    ClientType,
    GrantType,
    default_grant_types,
)
from applications.validators import validate_grant_types, validate_redirect_uris


def empty_dict() -> dict:
    return {}


def empty_list() -> list:
    return []


class Application(models.Model):
    """A client of the gateway, recognised by claims its tokens carry."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=9, choices=ApplicationStatus.choices, default=ApplicationStatus.ACTIVE
    )
    identifying_claims = models.JSONField(
        default=empty_dict,
        blank=True,
        validators=[validate_claims_object],
        help_text='Every pair must match the token, e.g. {"client_id": "abc"}.',
    )
    custom_claims = models.JSONField(
        default=empty_dict,
        blank=True,
        validators=[validate_claims_object],
        help_text="Extra claims put into tokens the internal issuer signs for this application.",
    )
    apis = models.ManyToManyField(Api, blank=True, related_name="applications")
    # OAuth2 settings for the internal issuer (issue 20). These are the source of truth:
    # services mirror redirect_uris and client_type to the linked DOT client, and
    # issuer/validators.py enforces grant_types (DOT's client holds a single grant).
    client_type = models.CharField(
        max_length=12,
        choices=ClientType.choices,
        default=ClientType.CONFIDENTIAL,
        help_text="Public clients (browser and native apps) have no secret and must use PKCE.",
    )
    grant_types = models.JSONField(
        default=default_grant_types,
        blank=True,
        validators=[validate_grant_types],
        help_text="Grants the internal issuer serves this application: client_credentials, "
        "authorization_code, refresh_token, password.",
    )
    redirect_uris = models.JSONField(
        default=empty_list,
        blank=True,
        validators=[validate_redirect_uris],
        help_text="Where the authorization-code flow may send the user back, matched exactly: "
        "https URLs, or http on 127.0.0.1, [::1] or localhost; no fragments or wildcards.",
    )
    allowed_scopes = models.JSONField(
        default=empty_list,
        blank=True,
        validators=[validate_scope_list],
        help_text="Scopes the internal issuer may grant it; empty: any scope its APIs define.",
    )
    # The OAuth2 client (django-oauth-toolkit) holding client_id and the hashed secret.
    # Linked 1:1 rather than swapped, so DOT upgrades and its migrations stay untouched.
    oauth_client = models.OneToOneField(
        "oauth2_provider.Application",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="gateway_application",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        # Verbs beyond add/change/delete/view; accounts/roles.py says which role holds them.
        permissions = [
            ("rotate_secret_application", "Can rotate an application's client secret"),
            ("issue_test_token_application", "Can issue a test token for an application"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        errors: dict[str, list[str]] = {}
        grants = self.grant_types if isinstance(self.grant_types, list) else []
        if self.client_type == ClientType.PUBLIC:
            refused = [grant for grant in grants if grant in CONFIDENTIAL_ONLY_GRANTS]
            if refused:
                errors["grant_types"] = [
                    f"A public client has no secret, so it cannot use {' or '.join(refused)}."
                ]
        if GrantType.AUTHORIZATION_CODE in grants and not self.redirect_uris:
            errors["redirect_uris"] = [
                "The authorization_code grant needs at least one redirect URI."
            ]
        if errors:
            raise ValidationError(errors)

    @property
    def is_public(self) -> bool:
        return self.client_type == ClientType.PUBLIC

    @property
    def is_active(self) -> bool:
        return self.status == ApplicationStatus.ACTIVE

    @property
    def client_id(self) -> str:
        return self.oauth_client.client_id if self.oauth_client else ""
