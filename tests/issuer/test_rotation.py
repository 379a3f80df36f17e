"""Signing-key rotation without a failed call: the next key is published before it signs,
and a retired key stays published until the last token it signed has expired
(docs/security.md, Token rules E4).
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import jwt
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from authservers.models import AuthorizationServer, SigningKey
from authservers.signing import SigningKeyError, ensure_signing_keys, rotate_signing_key
from authservers.tasks import rotate_due_signing_keys, rotate_signing_key_if_due
from core.models import AuditEvent
from gateway_admin.celery import app
from tests.signing_keys import publish_next_key_long_ago


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def kids(issuer) -> list[str]:
    return [key["kid"] for key in issuer.jwks()["keys"]]


def test_the_next_key_is_published_before_it_signs(issuer):
    token = issuer.token()["access_token"]
    published = kids(issuer)

    active = SigningKey.objects.get(server=issuer.server, state="active")
    upcoming = SigningKey.objects.get(server=issuer.server, state="next")
    assert kid_of(token) == active.kid
    assert published == [active.kid, upcoming.kid]


def test_rotation_keeps_old_tokens_valid_until_they_expire(issuer, clock):
    issuer.server.leeway_seconds = leeway = 30
    issuer.server.save()
    lifetime = issuer.server.token_lifetime_seconds
    old = issuer.token()["access_token"]
    old_exp = issuer.verify(old)["exp"]
    assert old_exp == clock.time() + lifetime
    cached_by_a_verifier = kids(issuer)

    clock.advance(1)
    publish_next_key_long_ago(issuer.server)
    promoted = rotate_signing_key(issuer.server)
    new = issuer.token()["access_token"]

    # The new kid was in the key set verifiers already had: nobody has to refetch.
    assert kid_of(new) == promoted.kid
    assert promoted.kid in cached_by_a_verifier
    assert kid_of(new) != kid_of(old)
    assert issuer.call(old).status_code == 200
    assert issuer.call(new).status_code == 200
    assert issuer.verify(old)["exp"] == old_exp
    published = kids(issuer)
    assert published[0] == promoted.kid
    assert kid_of(old) in published
    assert len(published) == 3  # active, next, retired

    # The old token expires on time (with the leeway verifiers grant), while the retired
    # key stays published for the last token it could have signed: one issued at the
    # very moment of the rotation.
    clock.seconds = old_exp + leeway - 1
    assert issuer.call(old).status_code == 200
    clock.seconds = old_exp + leeway
    assert issuer.call(old).status_code == 401
    retired = SigningKey.objects.get(kid=kid_of(old))
    assert retired.published_until == retired.retired_at + timedelta(seconds=lifetime + leeway)
    unpublished_at = retired.published_until.timestamp()
    assert unpublished_at == old_exp + 1 + leeway
    clock.seconds = unpublished_at - 1
    assert kid_of(old) in kids(issuer)

    # The retired key leaves the JWKS once every token it signed has expired.
    clock.seconds = unpublished_at
    assert kid_of(old) not in kids(issuer)
    assert issuer.call(issuer.token()["access_token"]).status_code == 200


def test_rotating_again_promotes_the_key_published_by_the_previous_rotation(issuer):
    publish_next_key_long_ago(issuer.server)
    first = rotate_signing_key(issuer.server)
    upcoming = SigningKey.objects.get(server=issuer.server, state="next")
    publish_next_key_long_ago(issuer.server)

    second = rotate_signing_key(issuer.server)

    assert second.pk == upcoming.pk
    assert SigningKey.objects.get(pk=first.pk).state == "retired"
    assert kid_of(issuer.token()["access_token"]) == second.kid
    assert issuer.call(issuer.token()["access_token"]).status_code == 200


def test_a_change_to_es256_signs_after_the_following_rotation(issuer):
    ensure_signing_keys(issuer.server)
    publish_next_key_long_ago(issuer.server)
    rotate_signing_key(issuer.server, algorithm="ES256")
    assert jwt.get_unverified_header(issuer.token()["access_token"])["alg"] == "RS256"

    publish_next_key_long_ago(issuer.server)
    rotate_signing_key(issuer.server)
    token = issuer.token(scope="pets:read")["access_token"]

    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert issuer.verify(token)["client_id"] == issuer.client_id
    assert issuer.call(token).status_code == 200
    assert SigningKey.objects.get(server=issuer.server, state="next").alg == "ES256"


def test_an_algorithm_the_server_does_not_accept_is_refused(issuer):
    issuer.server.allowed_algorithms = ["RS256"]
    issuer.server.save()

    with pytest.raises(SigningKeyError, match="ES256 is not among the algorithms"):
        rotate_signing_key(issuer.server, algorithm="ES256")


def test_external_servers_have_no_signing_keys(db):
    server = AuthorizationServer.objects.create(
        name="IdP", kind="external", issuer="https://idp.example"
    )

    with pytest.raises(SigningKeyError, match="external"):
        ensure_signing_keys(server)


def test_the_command_rotates_and_the_rotation_is_audited(issuer, capsys):
    ensure_signing_keys(issuer.server)
    upcoming = SigningKey.objects.get(server=issuer.server, state="next")
    publish_next_key_long_ago(issuer.server)

    call_command("rotate_signing_key", "--server", "Gatekeep")

    assert capsys.readouterr().out == f"Gatekeep now signs with {upcoming.kid} (RS256).\n"
    assert SigningKey.objects.get(pk=upcoming.pk).state == "active"
    event = AuditEvent.objects.filter(action="rotate-signing-key").get()
    assert event.actor_name == "manage.py"
    assert event.after["active"] == [upcoming.kid]
    assert event.before["next"] == [upcoming.kid]


def test_the_command_explains_operator_mistakes(issuer):
    with pytest.raises(CommandError, match="no internal authorization server named 'Nope'"):
        call_command("rotate_signing_key", "--server", "Nope")


def test_the_beat_task_rotates_old_keys_and_prunes_expired_ones(issuer):
    active = ensure_signing_keys(issuer.server)
    upcoming = SigningKey.objects.get(server=issuer.server, state="next")
    assert rotate_signing_key_if_due(issuer.server.pk) is None  # a fresh key stays
    SigningKey.objects.filter(pk=active.pk).update(activated_at=timezone.now() - timedelta(days=31))
    publish_next_key_long_ago(issuer.server)

    assert rotate_signing_key_if_due(issuer.server.pk) == upcoming.kid

    assert SigningKey.objects.get(pk=active.pk).state == "retired"
    assert kid_of(issuer.token()["access_token"]) == upcoming.kid
    SigningKey.objects.filter(pk=active.pk).update(published_until=timezone.now())

    assert rotate_signing_key_if_due(issuer.server.pk) is None  # nothing due; the expired key goes

    assert not SigningKey.objects.filter(pk=active.pk).exists()
    assert SigningKey.objects.filter(server=issuer.server).count() == 2
    assert active.kid not in kids(issuer)


@pytest.fixture
def no_leftover_messages():
    yield
    app.control.purge()  # with a real broker, nothing consumes the queue in tests


def test_the_beat_tick_covers_every_internal_server_and_no_other(issuer, no_leftover_messages):
    AuthorizationServer.objects.create(name="IdP", kind="external", issuer="https://idp.example")

    assert rotate_due_signing_keys.run() == [issuer.server.pk]
    assert "rotate-due-signing-keys" in app.conf.beat_schedule


def test_concurrent_first_token_requests_create_exactly_one_key_pair(issuer):
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(
            pool.map(lambda _: issuer.token_response(grant_type="client_credentials"), range(8))
        )

    assert [response.status_code for response in responses] == [200] * 8
    assert SigningKey.objects.filter(server=issuer.server, state="active").count() == 1
    assert SigningKey.objects.filter(server=issuer.server).count() == 2
    assert {kid_of(response.json()["access_token"]) for response in responses} == {kids(issuer)[0]}
