"""A deactivated user keeps no working grant."""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save

from issuer.revocation import revoke_user_tokens


def _user_saved(sender, instance, created: bool = False, **kwargs) -> None:
    # Every save of an inactive user (admin, console, shell): a no-op once nothing is left.
    if not created and not getattr(instance, "is_active", True):
        revoke_user_tokens(instance)


def connect() -> None:
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="gatekeep-user-tokens")
