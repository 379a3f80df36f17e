from celery import shared_task
from django.utils import timezone

from authservers import signing
from authservers.choices import ServerKind
from authservers.keysets import refresh_jwks_by_id
from authservers.models import AuthorizationServer


@shared_task(ignore_result=True)
def refresh_jwks(server_id: int) -> dict | None:
    """Refresh one server's keys; failures are recorded on its snapshot, not raised."""
    outcome = refresh_jwks_by_id(server_id)
    if outcome is None:
        return None
    return {"ok": outcome.ok, "key_ids": outcome.key_ids, "error": outcome.error}


@shared_task(ignore_result=True)
def refresh_due_jwks() -> list[int]:
    """Queue a refresh for every server whose keys are older than its interval."""
    now = timezone.now()
    due = []
    for server in AuthorizationServer.objects.select_related("jwks_snapshot"):
        snapshot = getattr(server, "jwks_snapshot", None)
        fetched_at = snapshot.fetched_at if snapshot else None
        if (
            fetched_at is None
            or (now - fetched_at).total_seconds() >= server.jwks_refresh_seconds - 15
        ):
            refresh_jwks.delay(server.pk)
            due.append(server.pk)
    return due


@shared_task(ignore_result=True)
def rotate_due_signing_keys() -> list[int]:
    """Queue the rotation check of every internal server (see rotate_signing_key_if_due)."""
    ids = list(
        AuthorizationServer.objects.filter(kind=ServerKind.INTERNAL).values_list("pk", flat=True)
    )
    for server_id in ids:
        rotate_signing_key_if_due.delay(server_id)
    return ids


@shared_task(ignore_result=True)
def rotate_signing_key_if_due(server_id: int) -> str | None:
    """Rotate one internal server's key when it is GATEWAY_SIGNING_KEY_ROTATION_DAYS old."""
    server = AuthorizationServer.objects.filter(pk=server_id).first()
    if server is None:
        return None
    rotated = signing.rotate_signing_key_if_due(server)
    return rotated.kid if rotated else None
