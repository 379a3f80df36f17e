"""Roles are Django auth groups (accounts/roles.py); the one table here links console
accounts to the single sign-on identity they were made for (accounts/sso.py)."""

from django.conf import settings
from django.db import models


class SsoIdentity(models.Model):
    """A console account created by an OpenID Connect sign-in: the provider's (iss, sub).

    Only accounts with a link are ever signed in by the provider, so an identity whose
    username equals a local (break-glass) account's cannot take that account over.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    groups = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "single sign-on identity"
        verbose_name_plural = "single sign-on identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="unique_sso_subject")
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
