"""Signing keys of the internal authorization server: creation, encryption at rest, rotation.

A key is born `next` and is published in the JWKS before it signs anything
(docs/security.md, Token rules E4). Rotation promotes next → active, retires the active key and
creates a new next key. A retired key stays published until every token it
signed has expired (`published_until`); pruning then deletes it, private half
and all. After every change the JWKS snapshot is rebuilt, because the proxy's
key store reads internal servers' keys from that snapshot, never over HTTP.
"""

import base64
import functools
import json
import logging
import math
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from jwcrypto import jwk, jws

from authservers import keysets
from authservers.choices import ServerKind
from authservers.jwks import public_signing_key
from authservers.models import AuthorizationServer, SigningAlgorithm, SigningKey, SigningKeyState
from core import changes, clock

logger = logging.getLogger(__name__)

# Claims the issuer sets itself; an application's custom claims never replace them.
REGISTERED_CLAIMS = frozenset(
    {
        "iss",
        "sub",
        "aud",
        "exp",
        "nbf",
        "iat",
        "jti",
        "client_id",
        "scope",
        "scp",
        "typ",
        "azp",
        "auth_time",
        "acr",
        "amr",
        "cnf",
        "act",
        "may_act",
        "preferred_username",
    }
)


class SigningKeyError(Exception):
    """The internal issuer cannot do what was asked; the message says why."""


class RotationTooSoon(SigningKeyError):
    """A rotation would make a key sign before verifiers can have fetched it (issue 20).

    Verifiers cache the JWKS for GATEWAY_JWKS_MAX_AGE_SECONDS (its Cache-Control
    max-age); a key published more recently may be missing from their copy, and a
    token it signs fails there ("no applicable key found"). `kid` is the key that
    would sign, `retry_after` the whole seconds until it may, `safe_at` that instant.
    """

    def __init__(self, server: AuthorizationServer, key: SigningKey, published: bool):
        self.kid = kid = key.kid
        self.retry_after = retry_after = seconds_until_safe(key)
        self.safe_at = clock.now() + timedelta(seconds=retry_after)
        if published:
            why = (
                f"{server} had no published next key, so a new one would have signed "
                f"unannounced; key {kid} is published now"
            )
        else:
            published_for = max(0, int((clock.now() - key.created_at).total_seconds()))
            why = f"the next key {kid} of {server} was published only {published_for} s ago"
        super().__init__(
            f"Too soon to rotate: {why}. Verifiers cache the key set for {_max_age()} s "
            f"(plus {FETCH_MARGIN_SECONDS} s for the fetch), so it may sign from "
            f"{self.safe_at:%Y-%m-%d %H:%M:%S} UTC: rotate again in {retry_after} s. "
            "(A leaked key is revoked, not rotated: revocation replaces it at once.)"
        )


def _max_age() -> int:
    return settings.GATEWAY_JWKS_MAX_AGE_SECONDS


# A key's created_at is a moment before its transaction commits (only then is it in the
# JWKS), and a verifier starts its cache lifetime when the response arrives, not when it
# was made: a next key signs this much later than the bare max-age allows.
FETCH_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class _Keys:
    active: SigningKey | None
    next: SigningKey | None


# --- encryption at rest -----------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _fernet_for(secrets: tuple[str, ...]) -> MultiFernet:
    # HKDF turns any long secret (or SECRET_KEY) into a Fernet key.
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(
                    HKDF(
                        algorithm=hashes.SHA256(),
                        length=32,
                        salt=b"gatekeep-signing-keys",
                        info=b"fernet",
                    ).derive(secret.encode())
                )
            )
            for secret in secrets
        ]
    )


def _fernet() -> MultiFernet:
    configured = [s.strip() for s in settings.GATEWAY_KEY_ENCRYPTION_KEY.split(",") if s.strip()]
    return _fernet_for(tuple(configured or [settings.SECRET_KEY]))


@sensitive_variables("private_key", "pem")
def _new_key(server: AuthorizationServer, alg: str, state: str) -> SigningKey:
    if alg == SigningAlgorithm.ES256:
        private_key = ec.generate_private_key(ec.SECP256R1())
    else:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = jwk.JWK.from_pyca(private_key.public_key())
    kid = public.thumbprint()  # RFC 7638: stable, and says nothing about the private half
    public_jwk = public.export_public(as_dict=True) | {"kid": kid, "use": "sig", "alg": alg}
    now = clock.now()
    key = SigningKey.objects.create(
        server=server,
        kid=kid,
        alg=alg,
        private_key=_fernet().encrypt(pem).decode(),
        public_jwk=public_signing_key(public_jwk),
        state=state,
        activated_at=now if state == SigningKeyState.ACTIVE else None,
    )
    # created_at is when the key was first published, which rotation measures with the
    # same clock (auto_now_add would take timezone.now(), which tests cannot move).
    SigningKey.objects.filter(pk=key.pk).update(created_at=now)
    key.created_at = now
    return key


# Decrypted keys by kid: a kid's key never changes, so caching it per process is safe.
_private_keys: dict[str, jwk.JWK] = {}
_private_keys_lock = threading.Lock()


@sensitive_variables("pem")
def _private_jwk(key: SigningKey) -> jwk.JWK:
    cached = _private_keys.get(key.kid)
    if cached is not None:
        return cached
    try:
        pem = _fernet().decrypt(key.private_key.encode())
    except InvalidToken:
        raise SigningKeyError(
            f"Signing key {key.kid} cannot be decrypted: GATEWAY_KEY_ENCRYPTION_KEY "
            "(or SECRET_KEY, which it defaults to) changed since it was created."
        ) from None
    private = jwk.JWK.from_pem(pem)
    with _private_keys_lock:
        if len(_private_keys) >= 16:
            _private_keys.clear()
        _private_keys[key.kid] = private
    return private


# --- lifecycle --------------------------------------------------------------------


def _require_internal(server: AuthorizationServer) -> None:
    if server.kind != ServerKind.INTERNAL:
        raise SigningKeyError(f"{server} is an external server; only internal ones sign tokens.")


def _current_keys(server: AuthorizationServer) -> _Keys:
    keys = {
        key.state: key
        for key in SigningKey.objects.filter(
            server=server, state__in=[SigningKeyState.ACTIVE, SigningKeyState.NEXT]
        )
    }
    return _Keys(active=keys.get(SigningKeyState.ACTIVE), next=keys.get(SigningKeyState.NEXT))


def _algorithm(server: AuthorizationServer, requested: str | None) -> str:
    if requested is None:
        # Keep the algorithm an operator chose last; the setting only decides the first key.
        newest = SigningKey.objects.filter(server=server).order_by("-created_at").first()
        requested = newest.alg if newest else settings.GATEWAY_SIGNING_KEY_ALGORITHM
    if requested not in SigningAlgorithm.values:
        raise SigningKeyError(f"Choose RS256 or ES256, not {str(requested)[:20]!r}.")
    if requested not in server.allowed_algorithms:
        raise SigningKeyError(
            f"{requested} is not among the algorithms {server} accepts "
            f"({', '.join(server.allowed_algorithms)}); add it there first."
        )
    return requested


def _lock(server: AuthorizationServer) -> AuthorizationServer:
    """Serialise key changes of one server; call first thing in the transaction.

    An UPDATE that changes nothing is a row lock on PostgreSQL and takes SQLite's
    write lock up front: a SQLite transaction that reads and then writes fails with
    "database is locked" when another writer got there in between.
    """
    AuthorizationServer.objects.filter(pk=server.pk).update(updated_at=F("updated_at"))
    return AuthorizationServer.objects.get(pk=server.pk)


def ensure_signing_keys(server: AuthorizationServer, algorithm: str | None = None) -> SigningKey:
    """The server's active key, creating an active and a next key when they are missing."""
    _require_internal(server)
    keys = _current_keys(server)
    if keys.active is not None and keys.next is not None:
        return keys.active  # the common case: no lock, no write
    try:
        active, created = _ensure_keys(server, algorithm)
    except IntegrityError:
        # _lock serialises creators; should one still slip past (the server row was
        # created in a concurrent transaction), the one-active/one-next constraints
        # refuse the duplicate and the second pass finds the winner's keys.
        active, created = _ensure_keys(server, algorithm)
    if created:
        changes.record(None, "create-signing-keys", server, after=_key_summary(server))
        keysets.refresh_jwks(server)
    return active


def _ensure_keys(server: AuthorizationServer, algorithm: str | None) -> tuple[SigningKey, bool]:
    with transaction.atomic():
        _lock(server)
        keys = _current_keys(server)
        if keys.active is not None and keys.next is not None:
            return keys.active, False
        alg = _algorithm(server, algorithm)
        active = keys.active
        if active is None and keys.next is not None:
            # The active key was deleted by hand; the published next key takes over.
            active = _promote(keys.next)
            keys = _Keys(active=active, next=None)
        elif active is None:
            # A brand-new issuer: nobody can have cached its key set yet.
            active = _new_key(server, alg, SigningKeyState.ACTIVE)
        if keys.next is None:
            _new_key(server, alg, SigningKeyState.NEXT)
        return active, True


def _promote(key: SigningKey) -> SigningKey:
    key.state = SigningKeyState.ACTIVE
    key.activated_at = clock.now()
    key.save(update_fields=["state", "activated_at"])
    return key


def _retire(key: SigningKey, server: AuthorizationServer) -> None:
    now = clock.now()
    key.state = SigningKeyState.RETIRED
    key.retired_at = now
    # The last token it signed expires at most one lifetime from now, plus the
    # leeway verifiers grant; until then the key must stay published.
    key.published_until = now + timedelta(seconds=token_lifetime(server) + server.leeway_seconds)
    key.save(update_fields=["state", "retired_at", "published_until"])


def seconds_until_safe(key: SigningKey) -> int:
    """Whole seconds until `key` may sign; 0 when it may now.

    Verifiers cache the JWKS for GATEWAY_JWKS_MAX_AGE_SECONDS, so a key may start
    signing only once every cached copy is newer than its publication: after it has
    been published that long, plus FETCH_MARGIN_SECONDS.
    """
    published_for = (clock.now() - key.created_at).total_seconds()
    return max(0, math.ceil(_max_age() + FETCH_MARGIN_SECONDS - published_for))


def rotate_signing_key(
    server: AuthorizationServer, actor=None, algorithm: str | None = None
) -> SigningKey:
    """Promote the next key, retire the active one, publish a new next key; return the new active.

    Never too soon (issue 20): the next key must have been published for at least
    GATEWAY_JWKS_MAX_AGE_SECONDS (plus FETCH_MARGIN_SECONDS), or verifiers still
    holding an older cached JWKS would meet tokens signed by a key they do not know.
    Otherwise RotationTooSoon is raised and nothing changes; it says when to retry.
    When there is no next key at all (deleted by hand) while an active key signs,
    the refusal publishes one, so that the retry succeeds once it has been published
    long enough. Only a brand-new issuer, with no active key, gets a key that signs
    at once: nobody can have cached its key set.

    There is deliberately no override (no `force`): the emergency, a leaked key, is
    handled by revoke_signing_key, which withdraws the key at once and lets the
    published next key sign. A routine rotation can always wait a few minutes.

    `algorithm` applies to the new next key, so a change of algorithm signs only
    after the following rotation, once verifiers have had time to fetch the key.
    """
    _require_internal(server)
    refused = None
    published = False
    with transaction.atomic():
        server = _lock(server)
        alg = _algorithm(server, algorithm)
        keys = _current_keys(server)
        before = _key_summary(server)
        if keys.next is None and keys.active is not None:
            # A key that signed unannounced would fail at every verifier with a cached
            # JWKS: publish one now, and let it sign once verifiers can have it.
            upcoming = _new_key(server, alg, SigningKeyState.NEXT)
            changes.record(actor, "create-signing-keys", server, before, _key_summary(server))
            published = True
            refused = RotationTooSoon(server, upcoming, published=True)
        elif keys.next is None:
            # A brand-new issuer: nobody can have cached its key set yet.
            promoted = _new_key(server, alg, SigningKeyState.NEXT)
        else:
            promoted = keys.next
            if seconds_until_safe(promoted) > 0:
                refused = RotationTooSoon(server, promoted, published=False)
        if refused is None:
            if keys.active is not None:
                _retire(keys.active, server)
            _promote(promoted)
            _new_key(server, alg, SigningKeyState.NEXT)
            _prune(server)
            changes.record(actor, "rotate-signing-key", server, before, _key_summary(server))
    if refused is not None:
        if published:
            keysets.refresh_jwks(server)
        logger.warning("Rotation of %s refused: %s", server, refused)
        raise refused
    keysets.refresh_jwks(server)
    logger.info("Rotated the signing key of %s; %s signs now", server, promoted.kid)
    return promoted


@dataclass(frozen=True)
class Revocation:
    """What a revocation did: the key withdrawn, and the key that signs from now on."""

    kid: str
    previous_state: str
    active: SigningKey | None  # None only when no algorithm the server accepts can sign
    published: list[str]  # the kids in the server's JWKS now


def revoke_signing_key(
    server: AuthorizationServer, kid: str, actor=None, reason: str = ""
) -> Revocation:
    """Withdraw a key at once (e.g. its private half leaked); token issuance keeps working.

    Unlike rotation, the key is not kept published for its tokens: it leaves the
    JWKS and the gateway's key snapshot in this transaction, its private half is
    destroyed, and the config version moves so that every worker drops the tokens
    it verified and re-reads the keys (verifiers outside the gateway may still hold
    the old JWKS for up to GATEWAY_JWKS_MAX_AGE_SECONDS). When it was the active
    key, the published next key signs from now on (a new one when there is none)
    and a new next key is published.
    """
    _require_internal(server)
    with transaction.atomic():
        server = _lock(server)
        key = SigningKey.objects.filter(server=server, kid=kid).first()
        if key is None:
            raise SigningKeyError(f"{server} has no signing key {str(kid)[:100]!r}.")
        if key.state == SigningKeyState.REVOKED:
            raise SigningKeyError(f"Signing key {key.kid} was already revoked at {key.revoked_at}.")
        before = _key_summary(server)
        previous_state = key.state
        keys = _current_keys(server)
        # Revoked first: it frees the key's active or next slot for its replacement.
        key.state = SigningKeyState.REVOKED
        key.revoked_at = timezone.now()
        key.published_until = None
        key.private_key = ""  # nothing left to sign with, here or in a backup
        key.save(update_fields=["state", "revoked_at", "published_until", "private_key"])
        active = _replace_revoked(server, key, keys)
        snapshot = keysets.republish_internal_keys(server)
        # Announced: every worker drops the tokens it verified with the revoked key.
        changes.record(
            actor,
            "revoke-signing-key",
            server,
            before,
            {**_key_summary(server), "revoked_kid": key.kid, "reason": reason[:500]},
            announce=True,
        )
    with _private_keys_lock:
        _private_keys.pop(key.kid, None)
    logger.warning(
        "Revoked signing key %s of %s (was %s); %s signs now",
        key.kid,
        server,
        previous_state,
        active.kid if active else "no key",
    )
    return Revocation(key.kid, previous_state, active, snapshot.key_ids)


def _replace_revoked(
    server: AuthorizationServer, revoked: SigningKey, keys: _Keys
) -> SigningKey | None:
    """Fill the slot the revoked key left; the key that signs afterwards."""
    active = keys.active if keys.active != revoked else None
    upcoming = keys.next if keys.next != revoked else None
    if active is None and upcoming is not None:
        # The published next key: verifiers that cached the JWKS already know it.
        active, upcoming = _promote(upcoming), None
    alg = _replacement_algorithm(server, revoked.alg)
    if alg is None:
        logger.error("%s accepts neither RS256 nor ES256: no new signing key was made", server)
        return active
    if active is None:
        active = _new_key(server, alg, SigningKeyState.ACTIVE)
    if upcoming is None:
        _new_key(server, alg, SigningKeyState.NEXT)
    return active


def _replacement_algorithm(server: AuthorizationServer, preferred: str) -> str | None:
    """The algorithm chosen last (as rotation keeps it), else any the server accepts.

    Never an error: a server setting must not block an emergency revocation.
    """
    newest = (
        SigningKey.objects.filter(server=server)
        .exclude(state=SigningKeyState.REVOKED)
        .order_by("-created_at")
        .first()
    )
    chosen = newest.alg if newest else None
    for alg in (
        chosen,
        preferred,
        settings.GATEWAY_SIGNING_KEY_ALGORITHM,
        *SigningAlgorithm.values,
    ):
        if alg in SigningAlgorithm.values and alg in server.allowed_algorithms:
            return alg
    return None


def rotate_signing_key_if_due(server: AuthorizationServer) -> SigningKey | None:
    """The beat task's step: keys exist, rotate when the active one is old, prune the expired.

    A due rotation whose next key is not yet safe to sign is skipped, never forced:
    the next tick tries again (see rotate_signing_key).
    """
    active = ensure_signing_keys(server)
    cutoff = clock.now() - timedelta(days=settings.GATEWAY_SIGNING_KEY_ROTATION_DAYS)
    if active.activated_at is not None and active.activated_at <= cutoff:
        try:
            return rotate_signing_key(server)
        except RotationTooSoon as exc:
            logger.info(
                "Rotation of %s is due but waits %d s for key %s to be published long enough",
                server,
                exc.retry_after,
                exc.kid,
            )
    if prune_signing_keys(server):
        keysets.refresh_jwks(server)
    return None


def prune_signing_keys(server: AuthorizationServer) -> int:
    """Delete retired keys whose tokens have all expired; returns how many went."""
    with transaction.atomic():
        return _prune(server)


def _prune(server: AuthorizationServer) -> int:
    deleted, _ = SigningKey.objects.filter(
        server=server, state=SigningKeyState.RETIRED, published_until__lte=clock.now()
    ).delete()
    return deleted


def _key_summary(server: AuthorizationServer) -> dict:
    return {
        state: sorted(
            SigningKey.objects.filter(server=server, state=state).values_list("kid", flat=True)
        )
        for state in SigningKeyState.values
    }


# --- issuing ----------------------------------------------------------------------


def token_lifetime(server: AuthorizationServer) -> int:
    """Seconds an access token lives: the server's setting, never above the deployment's cap.

    Validation keeps new settings under GATEWAY_MAX_TOKEN_LIFETIME_SECONDS; the cap
    here also covers servers saved before it was lowered.
    """
    return min(server.token_lifetime_seconds, settings.GATEWAY_MAX_TOKEN_LIFETIME_SECONDS)


def issue_access_token(
    server: AuthorizationServer,
    *,
    subject: str,
    client_id: str,
    scope: str = "",
    audience: str | list[str] | None = None,
    custom_claims: dict | None = None,
    username: str | None = None,
) -> str:
    """A JWT access token (RFC 9068) signed with the server's active key."""
    key = SigningKey.objects.filter(server=server, state=SigningKeyState.ACTIVE).first()
    if key is None:
        key = ensure_signing_keys(server)
    now = int(clock.time())
    claims = {
        "iss": server.issuer,
        "sub": subject,
        "aud": audience,
        "client_id": client_id,
        "scope": scope,
        "preferred_username": username,
        "iat": now,
        "nbf": now,
        "exp": now + token_lifetime(server),
        "jti": uuid.uuid4().hex,
    }
    claims = {name: value for name, value in claims.items() if value not in (None, "")}
    for name, value in (custom_claims or {}).items():
        if name not in REGISTERED_CLAIMS:
            claims[name] = value
    return sign_jwt(server, claims, typ="at+jwt", key=key)


def sign_jwt(
    server: AuthorizationServer, claims: dict, *, typ: str, key: SigningKey | None = None
) -> str:
    """A compact JWS of `claims` signed with the server's active key (its kid in the header).

    Access tokens (typ at+jwt) and OpenID Connect ID tokens (typ JWT) share the key and
    the JWKS: a verifier needs one key set for both.
    """
    if key is None:
        key = SigningKey.objects.filter(server=server, state=SigningKeyState.ACTIVE).first()
    if key is None:
        key = ensure_signing_keys(server)
    header = {"alg": key.alg, "kid": key.kid, "typ": typ}
    token = jws.JWS(json.dumps(claims, separators=(",", ":")).encode())
    token.add_signature(
        _private_jwk(key), alg=None, protected=json.dumps(header, separators=(",", ":"))
    )
    return token.serialize(compact=True)
