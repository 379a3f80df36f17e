"""Domain operations on authorization servers: config rules and key refresh."""

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from authservers.choices import ServerKind
from authservers.http import FetchError, fetch_json, unreachable
from authservers.jwks import KeyRejected, jwk_from_pem, keyset_version, parse_jwks
from authservers.models import AuthorizationServer, JwksSnapshot
from authservers.validators import validate_issuer_url
from core import audit
from core.outbound_policy import check_url
from core.shared_cache import cache_is_shared

logger = logging.getLogger(__name__)
SNAPSHOT_CACHE_KEY = "gatekeep:jwks:{}"
_ISSUER_LIKE = re.compile(r"^https?://[^\s]{1,200}$")


def validate_server_config(server: AuthorizationServer) -> None:
    errors = {}
    if server.public_certificate.strip():
        try:
            jwk_from_pem(server.public_certificate)
        except KeyRejected as exc:
            errors["public_certificate"] = [str(exc)]
    if server.leeway_seconds > 300:
        errors["leeway_seconds"] = ["Keep the leeway at 300 seconds or less."]
    if server.jwks_refresh_seconds < 30:
        errors["jwks_refresh_seconds"] = ["Refresh at most every 30 seconds."]
    if server.max_stale_seconds < server.jwks_refresh_seconds:
        errors["max_stale_seconds"] = ["Must be at least the refresh interval."]
    if server.kind == ServerKind.EXTERNAL:
        errors.update(_outbound_errors(server))
    if server.kind == ServerKind.INTERNAL and server.token_lifetime_seconds is not None:
        limit = settings.GATEWAY_MAX_TOKEN_LIFETIME_SECONDS
        if not 1 <= server.token_lifetime_seconds <= limit:
            errors["token_lifetime_seconds"] = [
                f"Must be between 1 and {limit} seconds ({_duration(limit)}): "
                "GATEWAY_MAX_TOKEN_LIFETIME_SECONDS caps the lifetime of access tokens."
            ]
    if errors:
        raise ValidationError(errors)


# The URLs the gateway fetches from an external server (the internal one is the
# gateway itself and is never fetched), with the name its error messages use.
OUTBOUND_FIELDS = (
    ("issuer", "issuer"),
    ("discovery_url", "discovery URL"),
    ("jwks_uri", "JWKS URI"),
)


def _outbound_errors(server: AuthorizationServer) -> dict[str, list[str]]:
    errors = {}
    for field, purpose in OUTBOUND_FIELDS:
        value = getattr(server, field)
        try:
            validate_issuer_url(value)  # a malformed URL is the field validator's message
        except ValidationError:
            continue
        try:
            check_url(value, purpose)
        except ValidationError as exc:
            errors[field] = exc.messages
    return errors


@dataclass(frozen=True)
class RefreshOutcome:
    ok: bool
    key_ids: list[str]
    error: str = ""


def refresh_jwks(server: AuthorizationServer) -> RefreshOutcome:
    """Fetch (or build) the server's keys; keep the last good set when that fails."""
    snapshot, _ = JwksSnapshot.objects.get_or_create(server=server)
    now = timezone.now()
    snapshot.last_attempt_at = now
    try:
        keys, skipped, etag, max_age = _load_keys(server)
    except (FetchError, KeyRejected) as exc:
        snapshot.last_error = str(exc)[:1000]
        snapshot.last_error_at = now
        snapshot.save(update_fields=["last_attempt_at", "last_error", "last_error_at"])
        # The admin sees the uniform message; the log keeps the real reason.
        logger.warning(
            "JWKS refresh of %s failed: %s", server.name, getattr(exc, "detail", None) or exc
        )
        return RefreshOutcome(ok=False, key_ids=snapshot.key_ids, error=snapshot.last_error)
    snapshot.keys = keys
    snapshot.version = keyset_version(keys)
    snapshot.skipped_keys = skipped
    snapshot.fetched_at = now
    snapshot.etag = etag
    snapshot.expires_at = now + timedelta(seconds=max_age) if max_age is not None else None
    snapshot.last_error = "; ".join(skipped)[:1000] if skipped else ""
    snapshot.last_error_at = now if skipped else None
    snapshot.save()
    publish_snapshot(snapshot)
    return RefreshOutcome(ok=True, key_ids=snapshot.key_ids, error=snapshot.last_error)


def republish_internal_keys(server: AuthorizationServer) -> JwksSnapshot:
    """Rebuild an internal server's snapshot from its signing keys, in this transaction.

    Unlike refresh_jwks(), an empty key set replaces the old one: after a key is
    withdrawn, keeping "the last good set" would keep trusting it. The cache copy
    is published once the transaction commits, so a rollback publishes nothing.
    """
    from authservers.signing import published_jwks

    try:
        keys = published_jwks(server)
    except KeyRejected:
        keys = []  # every key withdrawn: the gateway refuses all of this issuer's tokens
    snapshot, _ = JwksSnapshot.objects.select_for_update().get_or_create(server=server)
    now = timezone.now()
    snapshot.keys = keys
    snapshot.version = keyset_version(keys)
    snapshot.skipped_keys = []
    snapshot.fetched_at = snapshot.last_attempt_at = now
    snapshot.etag = ""
    snapshot.expires_at = None
    snapshot.last_error = ""
    snapshot.last_error_at = None
    snapshot.save()
    transaction.on_commit(lambda: publish_snapshot(snapshot))
    return snapshot


def _load_keys(server: AuthorizationServer) -> tuple[list[dict], list[str], str, int | None]:
    if server.kind == ServerKind.INTERNAL:
        from authservers.signing import published_jwks

        return published_jwks(server), [], "", None
    if server.public_certificate.strip():
        return [jwk_from_pem(server.public_certificate)], [], "", None
    jwks_uri = server.jwks_uri or discover_jwks_uri(server)
    document = fetch_json(jwks_uri)
    if not isinstance(document.data.get("keys"), list):
        # Any JSON object that is not a key set reads like a failed fetch: otherwise
        # the message would tell an admin which internal address answers with JSON.
        raise unreachable(jwks_uri, "key set", "the JSON object has no 'keys' list")
    parsed = parse_jwks(document.data, settings.JWKS_MAX_KEYS)
    if not parsed.keys:
        reasons = "; ".join(parsed.skipped) or "the key set is empty"
        raise KeyRejected(f"No usable signing key at {jwks_uri}: {reasons}")
    return parsed.keys, parsed.skipped, document.etag, document.max_age


def discover_jwks_uri(server: AuthorizationServer) -> str:
    url = server.effective_discovery_url
    document = fetch_json(url, "discovery document").data
    issuer = document.get("issuer")
    if issuer != server.issuer:
        if not (isinstance(issuer, str) and _ISSUER_LIKE.match(issuer)):
            # Only a document that names an issuer URL is a discovery document; for
            # anything else the answer reads like a failed fetch (no network mapping).
            raise unreachable(url, "discovery document", f"issuer is {str(issuer)[:200]!r}")
        raise FetchError(
            f"Discovery says the issuer is {issuer!r}, not {server.issuer!r}; refusing its keys."
        )
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri:
        raise FetchError("The discovery document has no jwks_uri.")
    # The jwks_uri came from the network: the same URL rules and outbound policy apply
    # when fetch_json() fetches it, before any connection.
    return jwks_uri


def snapshot_payload(snapshot: JwksSnapshot) -> dict | None:
    if snapshot.fetched_at is None:
        return None
    return {
        "version": snapshot.version,
        "keys": snapshot.keys,
        "fetched_at": snapshot.fetched_at.timestamp(),
    }


def publish_snapshot(snapshot: JwksSnapshot) -> None:
    """Share the good key set with every worker through the cache."""
    payload = snapshot_payload(snapshot)
    try:
        cache.set(SNAPSHOT_CACHE_KEY.format(snapshot.server_id), payload, timeout=None)
    except Exception:
        logger.warning("Cache unavailable; workers will read the key set from the database")


def read_snapshot(server_id: int) -> dict | None:
    """The shared key set: cache first, then the database (re-filling the cache).

    A process-local cache only holds what this process put there, so without a
    shared cache the database is the only place another process's fetch shows up.
    """
    if cache_is_shared():
        try:
            payload = cache.get(SNAPSHOT_CACHE_KEY.format(server_id))
            if payload is not None:
                return payload
        except Exception:
            logger.warning("Cache unavailable while reading keys of server %s", server_id)
    snapshot = JwksSnapshot.objects.filter(server_id=server_id).first()
    if snapshot is None or snapshot.fetched_at is None:
        return None
    publish_snapshot(snapshot)
    return snapshot_payload(snapshot)


def refresh_jwks_by_id(server_id: int) -> RefreshOutcome | None:
    server = AuthorizationServer.objects.filter(pk=server_id).first()
    return refresh_jwks(server) if server else None


# --- configuration changes and health (console; REST may share them) ---------------


def save_server(server: AuthorizationServer, actor=None) -> AuthorizationServer:
    """Create or update a server after the model's validation, and audit the change.

    A new external server, or one whose key source changed, gets its keys fetched
    once the change is committed (schedule_jwks_refresh).
    """
    with transaction.atomic():
        before = audit.snapshot(AuthorizationServer.objects.filter(pk=server.pk).first())
        server.full_clean()
        server.save()
        audit.record_event(
            actor, "update" if before else "create", server, before, audit.snapshot(server)
        )
        schedule_jwks_refresh(server, before)
    return server


# Fields that decide where an external server's keys come from and which are usable.
KEY_SOURCE_FIELDS = ("issuer", "discovery_url", "jwks_uri", "public_certificate")


def schedule_jwks_refresh(server: AuthorizationServer, before: dict | None = None) -> bool:
    """Queue the refresh_jwks task for when the transaction commits; True when queued.

    Only for an external server that is new (`before` is None) or whose key source
    changed: nobody should have to press "Refresh" before a new issuer works. An
    internal server's keys are made, not fetched (authservers.signing). The task
    re-reads the server by id (Celery runs it inline in the embedded setup).
    """
    if server.kind != ServerKind.EXTERNAL:
        return False
    if before is not None and all(
        before.get(name) == getattr(server, name) for name in KEY_SOURCE_FIELDS
    ):
        return False
    from authservers.tasks import refresh_jwks as refresh_task  # the tasks module imports this one

    server_id = server.pk
    transaction.on_commit(lambda: refresh_task.delay(server_id))
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
    if age > server.max_stale_seconds:
        return (
            f"The keys of authorization server {server.name} are {_duration(age)} old, past its "
            f"{_duration(server.max_stale_seconds)} staleness limit: calls would get 503 "
            f"issuer_unavailable. Last error: {snapshot.last_error.rstrip('. ') or 'none'}."
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


def delete_server(server: AuthorizationServer, actor=None) -> None:
    """Delete the server; policies that trusted it stop accepting its tokens."""
    with transaction.atomic():
        audit.record_event(actor, "delete", server, audit.snapshot(server), None)
        server.delete()


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
            f"Keys are {_duration(age)} old, past the {_duration(server.max_stale_seconds)} "
            "staleness limit; calls fail with 503 until a refresh succeeds.",
        )
    if (
        snapshot.last_error
        and snapshot.last_error_at
        and snapshot.last_error_at > snapshot.fetched_at
    ):
        return KeyHealth(
            "warning",
            "Refresh failing",
            f"{snapshot.last_error} Serving the keys fetched {_duration(age)} ago.",
        )
    if snapshot.last_error:
        return KeyHealth("warning", "Keys skipped", snapshot.last_error)
    if age > 2 * server.jwks_refresh_seconds:
        return KeyHealth(
            "warning",
            "Refresh overdue",
            f"Keys are {_duration(age)} old (refresh every "
            f"{_duration(server.jwks_refresh_seconds)}). The next call refreshes them; "
            "Celery beat keeps them fresh without traffic.",
        )
    return KeyHealth("ok", "Healthy", f"{len(snapshot.keys)} key(s), fetched {_duration(age)} ago.")


def _duration(seconds: float) -> str:
    """Seconds as the largest sensible unit: "45 s", "5 min", "3 h", "2 days"."""
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size * (2 if unit == "days" else 1):
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"
