"""Ending a user's grants: what deactivating a user does to the tokens issued for them."""

from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from core import changes


def revoke_user_tokens(user, actor=None) -> dict[str, int]:
    """Revoke the user's refresh tokens and delete their access tokens and pending codes.

    Set-based, as DOT's RefreshToken.revoke_family: refresh tokens are marked revoked
    (so a replay is recognised as one), access tokens and authorization codes deleted.
    The access tokens are JWTs the proxy verifies on its own: one already handed out
    stays valid until it expires (the issuer's token lifetime), but can never be renewed.
    """
    with transaction.atomic():
        refresh = get_refresh_token_model().objects.filter(user=user, revoked__isnull=True)
        revoked = refresh.update(revoked=timezone.now())
        access_model = get_access_token_model()
        _, deleted = access_model.objects.filter(user=user).delete()
        _, codes = get_grant_model().objects.filter(user=user).delete()
        get_id_token_model().objects.filter(user=user).delete()
        counts = {
            "refresh_tokens": revoked,
            "access_tokens": deleted.get(access_model._meta.label, 0),
            "authorization_codes": sum(codes.values()),
        }
        if any(counts.values()):
            changes.record(actor, "revoke-tokens", user, after=counts)
    return counts
