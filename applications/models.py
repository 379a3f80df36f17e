from django.db import models

from apis.models import Api
from apis.validators import validate_claims_object
from applications.choices import ApplicationStatus


def empty_dict() -> dict:
    return {}


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

    @property
    def is_active(self) -> bool:
        return self.status == ApplicationStatus.ACTIVE

    @property
    def client_id(self) -> str:
        return self.oauth_client.client_id if self.oauth_client else ""
