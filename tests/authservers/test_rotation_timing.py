"""Issue 20: a key signs only once verifiers can have it. Verifiers cache the JWKS for
GATEWAY_JWKS_MAX_AGE_SECONDS, so a rotation whose next key was published more recently
is refused (RotationTooSoon, with when to retry), from every entry point, and the beat
task waits for its next tick instead."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from authservers.models import AuthorizationServer, SigningKey
from authservers.signing import (
    FETCH_MARGIN_SECONDS,
    RotationTooSoon,
    ensure_signing_keys,
    revoke_signing_key,
    rotate_signing_key,
)
from authservers.tasks import rotate_signing_key_if_due
from core.models import AuditEvent

SAFE_AFTER = settings.GATEWAY_JWKS_MAX_AGE_SECONDS + FETCH_MARGIN_SECONDS


@pytest.fixture
def server(db, clock) -> AuthorizationServer:
    """An internal issuer whose active and next keys are published at the clock's start."""
    server = AuthorizationServer.objects.create(
        name="Gatekeep", kind="internal", issuer="https://gatekeep.example.com"
    )
    ensure_signing_keys(server, "ES256")  # RSA key generation would dominate the tests
    return server


def states(server) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for kid, state in SigningKey.objects.filter(server=server).values_list("kid", "state"):
        found.setdefault(state, []).append(kid)
    return {state: sorted(kids) for state, kids in found.items()}


def key(server, state: str) -> SigningKey:
    return SigningKey.objects.get(server=server, state=state)


def test_a_next_key_signs_only_after_the_jwks_cache_lifetime(server, clock):
    upcoming = key(server, "next")
    before = states(server)

    with pytest.raises(RotationTooSoon) as refused:
        rotate_signing_key(server)

    assert refused.value.kid == upcoming.kid
    assert refused.value.retry_after == SAFE_AFTER
    assert refused.value.safe_at.timestamp() == clock.time() + SAFE_AFTER
    assert states(server) == before
    assert not AuditEvent.objects.filter(action="rotate-signing-key").exists()

    clock.advance(SAFE_AFTER - 1)
    with pytest.raises(RotationTooSoon) as refused:
        rotate_signing_key(server)
    assert refused.value.retry_after == 1
    assert f"was published only {SAFE_AFTER - 1} s ago" in str(refused.value)

    clock.advance(1)
    assert rotate_signing_key(server).kid == upcoming.kid


def test_two_rotations_in_a_row_the_second_is_refused(server, clock):
    clock.advance(SAFE_AFTER)
    first = rotate_signing_key(server)
    published_by_it = key(server, "next")

    with pytest.raises(RotationTooSoon, match=f"rotate again in {SAFE_AFTER} s"):
        rotate_signing_key(server)

    assert key(server, "active") == first
    clock.advance(SAFE_AFTER)
    assert rotate_signing_key(server) == published_by_it


def test_a_missing_next_key_is_published_by_the_refusal_and_signs_after_the_wait(server, clock):
    active = key(server, "active")
    clock.advance(SAFE_AFTER)
    key(server, "next").delete()  # by hand: nothing published would sign

    with pytest.raises(RotationTooSoon, match="no published next key") as refused:
        rotate_signing_key(server)

    published_now = key(server, "next")
    assert refused.value.kid == published_now.kid
    assert refused.value.retry_after == SAFE_AFTER
    assert key(server, "active") == active  # the signing key did not change
    assert AuditEvent.objects.filter(action="create-signing-keys").count() == 2

    clock.advance(SAFE_AFTER)
    assert rotate_signing_key(server) == published_now


def test_a_brand_new_issuer_without_keys_signs_at_once(db, clock):
    server = AuthorizationServer.objects.create(
        name="Gatekeep", kind="internal", issuer="https://gatekeep.example.com"
    )
    SigningKey.objects.filter(server=server).delete()  # nobody can have cached its JWKS

    promoted = rotate_signing_key(server, algorithm="ES256")

    assert promoted.state == "active"
    assert key(server, "next").alg == "ES256"


def test_revocation_stays_the_emergency_path_and_is_never_delayed(server):
    # A leaked active key is revoked, not rotated: the published next key signs at once.
    leaked = key(server, "active")
    upcoming = key(server, "next")

    revocation = revoke_signing_key(server, leaked.kid, reason="leaked")

    assert revocation.active == upcoming
    with pytest.raises(RotationTooSoon):
        rotate_signing_key(server)  # the new next key was published just now


def test_the_command_refuses_with_the_time_to_retry(server, clock):
    with pytest.raises(CommandError, match=f"Too soon to rotate.*rotate again in {SAFE_AFTER} s"):
        call_command("rotate_signing_key")

    clock.advance(SAFE_AFTER)
    call_command("rotate_signing_key")
    assert AuditEvent.objects.filter(action="rotate-signing-key").count() == 1


def test_the_beat_task_skips_a_due_rotation_while_too_soon_and_rotates_at_a_later_tick(
    server, clock
):
    active = key(server, "active")
    # Due: the active key is older than GATEWAY_SIGNING_KEY_ROTATION_DAYS; but the next key
    # was published just now (its predecessor was revoked).
    revoke_signing_key(server, key(server, "next").kid, reason="test")
    upcoming = key(server, "next")
    SigningKey.objects.filter(pk=active.pk).update(
        activated_at=active.activated_at
        - timedelta(days=settings.GATEWAY_SIGNING_KEY_ROTATION_DAYS + 1)
    )

    assert rotate_signing_key_if_due(server.pk) is None  # skipped, no error

    assert key(server, "active") == active
    assert key(server, "next") == upcoming
    assert not AuditEvent.objects.filter(action="rotate-signing-key").exists()

    clock.advance(SAFE_AFTER - 1)
    assert rotate_signing_key_if_due(server.pk) is None
    clock.advance(1)  # a later tick
    assert rotate_signing_key_if_due(server.pk) == upcoming.kid
    assert key(server, "active") == upcoming
