"""Key sets of authorization servers: fetched (external) or built (internal), kept, shared.

The last good set of each server lives in its JwksSnapshot row and, when the cache
is shared, in the cache, where every worker's key store (keystore.py) reads it.
"""

import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from authservers.choices import ServerKind
from authservers.http import FetchError, fetch_json, unreachable
from authservers.jwks import KeyRejected, jwk_from_pem, keyset_version, parse_jwks
from authservers.models import AuthorizationServer, JwksSnapshot
from authservers.published_keys import published_jwks
from core.shared_cache import cache_is_shared

logger = logging.getLogger(__name__)
SNAPSHOT_CACHE_KEY = "gatekeep:jwks:{}"
_ISSUER_LIKE = re.compile(r"^https?://[^\s]{1,200}$")


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
                if not settings.GATEWAY_HAS_DATABASE:
                    _keep_in_state_dir(server_id, payload)
                return payload
        except Exception:
            logger.warning("Cache unavailable while reading keys of server %s", server_id)
    if not settings.GATEWAY_HAS_DATABASE:
        # A node without a database: the last key set it saw, for a restart while
        # Redis is down (the keys are public; the file holds nothing secret).
        return _read_state_dir(server_id)
    snapshot = JwksSnapshot.objects.filter(server_id=server_id).first()
    if snapshot is None or snapshot.fetched_at is None:
        return None
    publish_snapshot(snapshot)
    return snapshot_payload(snapshot)


_kept_versions: dict[int, str] = {}


def _state_file(server_id: int) -> Path:
    return Path(settings.GATEWAY_STATE_DIR) / "keys" / f"{int(server_id)}.json"


def _keep_in_state_dir(server_id: int, payload: dict) -> None:
    if _kept_versions.get(server_id) == payload.get("version"):
        return
    target = _state_file(server_id)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(payload))
        os.replace(temporary, target)
        _kept_versions[server_id] = payload.get("version")
    except (OSError, TypeError, ValueError):
        logger.warning("Could not keep the key set of server %s in %s", server_id, target)


def _read_state_dir(server_id: int) -> dict | None:
    try:
        payload = json.loads(_state_file(server_id).read_text())
    except (OSError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def refresh_jwks_by_id(server_id: int) -> RefreshOutcome | None:
    if not settings.GATEWAY_HAS_DATABASE:
        # No database here: a Celery worker fetches and shares the keys through Redis,
        # where the next key poll of this node picks them up.
        current_app.send_task("authservers.tasks.refresh_jwks", args=[server_id])
        return None
    server = AuthorizationServer.objects.filter(pk=server_id).first()
    return refresh_jwks(server) if server else None
