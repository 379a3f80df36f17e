"""Authorization servers: their write path, key health and the problems activation reports."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from authservers import signing, tasks
from authservers.choices import ServerKind
from authservers.keysets import refresh_jwks
from authservers.models import AuthorizationServer, JwksSnapshot
from core import changes
from core.durations import human_duration

# --- the write path of authorization servers (core/changes.py) -----------------------


def save_server(server: AuthorizationServer, actor=None) -> AuthorizationServer:
    """Create or update a server; AuthorizationServer.clean() holds the rules.

    A new internal server gets its active and next signing keys in the same
    transaction, so it can sign and publish a JWKS at once. A new external server,
    or one whose key source changed, gets its keys fetched once the change is
    committed: nobody should have to press "Refresh" before a new issuer works.
    """
    with transaction.atomic():
        stored = AuthorizationServer.objects.filter(pk=server.pk).first() if server.pk else None
        changes.save(server, actor)
        if server.kind == ServerKind.INTERNAL and stored is None:
            try:
                signing.ensure_signing_keys(server)
            except signing.SigningKeyError as exc:  # no algorithm it accepts can sign
                raise ValidationError({"allowed_algorithms": [str(exc)]}) from None
        schedule_jwks_refresh(server, stored)
    return server


# Fields that decide where an external server's keys come from and which are usable.
KEY_SOURCE_FIELDS = ("issuer", "discovery_url", "jwks_uri", "public_certificate")


def schedule_jwks_refresh(
    server: AuthorizationServer, stored: AuthorizationServer | None = None
) -> bool:
    """Queue the refresh_jwks task for when the transaction commits; True when queued.

    Only for an external server that is new (`stored` is None) or whose key source
    changed since `stored`. An internal server's keys are made, not fetched
    (authservers/signing.py). The task re-reads the server by id (Celery runs it
    inline in the embedded setup).
    """
    if server.kind != ServerKind.EXTERNAL:
        return False
    if stored is not None and all(
        getattr(stored, name) == getattr(server, name) for name in KEY_SOURCE_FIELDS
    ):
        return False
    server_id = server.pk
    transaction.on_commit(lambda: tasks.refresh_jwks.delay(server_id))
    return True


def missing_keys_problem(server: AuthorizationServer, now=None) -> str | None:
    """Why the proxy has no usable keys for this external server, or None when it has some.

    Usable means fetched at least once, not empty, and younger than max_stale_seconds
    (after that the proxy answers 503 issuer_unavailable). An internal server makes its
    signing keys when it issues its first token and publishes them at once, so no
    token of it can exist before its keys do: never a problem.
    """
    if server.kind == ServerKind.INTERNAL:
        return None
    now = now or timezone.now()
    snapshot = JwksSnapshot.objects.filter(server=server).first()
    where = _key_source(server)
    if snapshot is None or snapshot.fetched_at is None:
        failed = snapshot.last_error.rstrip(". ") if snapshot is not None else ""
        reason = f" The last attempt failed: {failed}." if failed else ""
        return (
            f"The keys of authorization server {server.name} ({where}) were never fetched, "
            f"so no token it issues can be verified.{reason} Fix the issuer, then refresh its "
            f"keys (POST /api/v1/authorization-servers/{server.pk}/refresh-jwks/)."
        )
    if not snapshot.keys:
        return f"Authorization server {server.name} publishes no usable signing key ({where})."
    age = (now - snapshot.fetched_at).total_seconds()
    limit = human_duration(server.max_stale_seconds)
    if age > server.max_stale_seconds:
        return (
            f"The keys of authorization server {server.name} are {human_duration(age)} old, "
            f"past its {limit} staleness limit: calls would get 503 issuer_unavailable."
            f" Last error: {snapshot.last_error.rstrip('. ') or 'none'}."
        )
    return None


def _key_source(server: AuthorizationServer) -> str:
    if server.public_certificate.strip():
        return "its public certificate"
    return server.jwks_uri or f"discovered from {server.effective_discovery_url}"


def ensure_usable_keys(server: AuthorizationServer) -> str | None:
    """Fetch the keys of an external server that has no usable ones; return the problem
    that remains, or None."""
    if missing_keys_problem(server) is None:
        return None
    refresh_jwks(server)
    return missing_keys_problem(server)


@dataclass(frozen=True)
class KeyHealth:
    """How usable a server's key set is right now: state is ok, warning or error."""

    state: str
    label: str
    detail: str


def key_health(server: AuthorizationServer, now=None) -> KeyHealth:
    """Classify the server's key snapshot the way the proxy's key store will treat it."""
    now = now or timezone.now()
    try:
        snapshot = server.jwks_snapshot  # select_related("jwks_snapshot") saves the query
    except JwksSnapshot.DoesNotExist:
        snapshot = None
    if snapshot is None or snapshot.fetched_at is None:
        if snapshot is not None and snapshot.last_error:
            return KeyHealth("error", "No keys", f"Never fetched: {snapshot.last_error}")
        return KeyHealth("warning", "Not fetched yet", "The first call will fetch the keys.")
    age = (now - snapshot.fetched_at).total_seconds()
    if age > server.max_stale_seconds:
        # keystore.KeySet older than max_stale_seconds: every call gets 503 issuer_unavailable.
        return KeyHealth(
            "error",
            "Stale",
            f"Keys are {human_duration(age)} old, past the "
            f"{human_duration(server.max_stale_seconds)} staleness limit; "
            "calls fail with 503 until a refresh succeeds.",
        )
    if (
        snapshot.last_error
        and snapshot.last_error_at
        and snapshot.last_error_at > snapshot.fetched_at
    ):
        return KeyHealth(
            "warning",
            "Refresh failing",
            f"{snapshot.last_error} Serving the keys fetched {human_duration(age)} ago.",
        )
    if snapshot.last_error:
        return KeyHealth("warning", "Keys skipped", snapshot.last_error)
    if age > 2 * server.jwks_refresh_seconds:
        return KeyHealth(
            "warning",
            "Refresh overdue",
            f"Keys are {human_duration(age)} old (refresh every "
            f"{human_duration(server.jwks_refresh_seconds)}). The next call refreshes them; "
            "Celery beat keeps them fresh without traffic.",
        )
    return KeyHealth(
        "ok", "Healthy", f"{len(snapshot.keys)} key(s), fetched {human_duration(age)} ago."
    )
