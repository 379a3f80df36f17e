"""Emergency revocation of a signing key: gone from the JWKS and refused by the gateway at
once, with token issuance carrying on under the next key.

The gateway's decision is the proxy's own decide(), called in-process with the config
re-checked on every call (GATEWAY_CONFIG_POLL_SECONDS = 0); the key poll keeps its
default, so a refusal right after the revocation proves the workers re-read the keys on
the config change rather than on their next poll.
"""

import base64
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects

from accounts.roles import Role
from apis.services import activate_api
from authservers.models import AuthorizationServer, SigningKey
from authservers.signing import SigningKeyError, issue_access_token, revoke_signing_key
from core.models import AuditEvent, ConfigRevision
from proxy.config import config_holder
from proxy.errors import InvalidToken
from proxy.inspector import inspect_token
from proxy.pipeline import decide
from proxy.tokens import verified_tokens
from tests.personas import staff_member
from tests.world import World, build_world


@pytest.fixture(autouse=True)
def config_checked_on_every_call(settings):
    settings.GATEWAY_CONFIG_POLL_SECONDS = 0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db, django_capture_on_commit_callbacks) -> World:
    # Committed, as in production: its config version is announced, so the next change
    # (the revocation) is a version of its own.
    with django_capture_on_commit_callbacks(execute=True):
        world = build_world()
        assert activate_api(world.api) == []
    return world


@pytest.fixture
def admin(db):
    return staff_member("ada", Role.ADMINISTRATOR)


def key(world: World, state: str) -> SigningKey:
    return SigningKey.objects.get(server=world.server, state=state)


def token_for(world: World) -> str:
    client_id = world.application.client_id
    return issue_access_token(
        world.server, subject=client_id, client_id=client_id, scope="pets:read", audience="petstore"
    )


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def gateway_call(token: str):
    """What the proxy decides for GET /gateway/petstore/v1/pets with this token."""
    environ = {
        "REQUEST_METHOD": "GET",
        "QUERY_STRING": "",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
    }
    return decide(config_holder.current(), environ, "/petstore/v1/pets")


def published_kids() -> set[str]:
    response = Client().get("/oauth2/jwks")
    assert response.status_code == 200
    return {jwk["kid"] for jwk in response.json()["keys"]}


def revoke(world, kid, capture, **kwargs):
    """Revoke and run what the commit triggers (config announcement, cache publication)."""
    with capture(execute=True):
        return revoke_signing_key(world.server, kid, **kwargs)


def test_a_revoked_active_key_leaves_the_jwks_and_its_tokens_are_refused_at_once(
    world, admin, django_capture_on_commit_callbacks
):
    signing, upcoming = key(world, "active"), key(world, "next")
    earlier = token_for(world)
    assert kid_of(earlier) == signing.kid
    assert gateway_call(earlier).application.name == "Petstore client"
    assert len(verified_tokens) == 1  # the verdict is cached, as on a busy worker
    assert signing.kid in published_kids()

    revocation = revoke(world, signing.kid, django_capture_on_commit_callbacks, actor=admin)

    assert (revocation.kid, revocation.previous_state) == (signing.kid, "active")
    assert revocation.active.kid == upcoming.kid  # the already-published next key signs
    jwks = published_kids()
    assert signing.kid not in jwks
    assert upcoming.kid in jwks and len(jwks) == 2  # plus a new next key
    assert set(revocation.published) == jwks
    with pytest.raises(InvalidToken) as refused:
        gateway_call(earlier)
    assert refused.value.detail == "The token's signing key is unknown to the issuer's key set."
    inspection = inspect_token(world.api, "GET", "/pets", earlier)
    assert (inspection.allowed, inspection.code) == (False, "invalid_token")

    later = token_for(world)
    assert kid_of(later) == upcoming.kid
    assert gateway_call(later).application.name == "Petstore client"


def test_the_revoked_key_is_destroyed_and_the_revocation_audited(
    world, admin, django_capture_on_commit_callbacks
):
    kid = key(world, "active").kid
    revoke(world, kid, django_capture_on_commit_callbacks, actor=admin, reason="laptop stolen")
    revoked = SigningKey.objects.get(kid=kid)
    assert revoked.state == "revoked"
    assert revoked.private_key == ""
    assert revoked.revoked_at is not None and revoked.published_until is None
    event = AuditEvent.objects.get(action="revoke-signing-key")
    assert event.actor == admin
    assert event.object_id == str(world.server.pk)
    assert kid in event.before["active"]
    assert event.after["revoked"] == [kid] and event.after["reason"] == "laptop stolen"
    assert "private_key" not in json.dumps(event.after)


def test_the_config_version_moves_so_every_worker_drops_its_verified_tokens(
    world, django_capture_on_commit_callbacks
):
    before = ConfigRevision.objects.get(pk=1).version if ConfigRevision.objects.exists() else None
    revoke(world, key(world, "active").kid, django_capture_on_commit_callbacks)
    assert ConfigRevision.objects.get(pk=1).version != before


def test_the_token_endpoint_signs_with_the_new_key_after_a_revocation(
    world, django_capture_on_commit_callbacks
):
    upcoming = key(world, "next")
    revoke(world, key(world, "active").kid, django_capture_on_commit_callbacks)
    basic = base64.b64encode(f"{world.application.client_id}:{world.secret}".encode()).decode()
    response = Client().post(
        "/oauth2/token",
        {"grant_type": "client_credentials", "audience": "petstore"},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    assert kid_of(token) == upcoming.kid
    assert gateway_call(token).application.name == "Petstore client"


def test_revoking_the_next_key_publishes_a_new_one_and_keeps_the_active_signing(
    world, django_capture_on_commit_callbacks
):
    signing, upcoming = key(world, "active"), key(world, "next")
    earlier = token_for(world)
    revocation = revoke(world, upcoming.kid, django_capture_on_commit_callbacks)
    assert revocation.active == signing
    assert key(world, "active") == signing
    replacement = key(world, "next")
    assert replacement.kid != upcoming.kid
    assert published_kids() == {signing.kid, replacement.kid}
    assert gateway_call(earlier).application.name == "Petstore client"


def test_revoking_a_retired_key_refuses_its_tokens_before_they_expire(
    world, django_capture_on_commit_callbacks
):
    from authservers.signing import rotate_signing_key

    earlier = token_for(world)
    rotate_signing_key(world.server)
    retired = SigningKey.objects.get(kid=kid_of(earlier))
    assert retired.state == "retired"
    assert gateway_call(earlier).application.name == "Petstore client"  # still published
    keys_before = set(SigningKey.objects.exclude(state="revoked").values_list("kid", flat=True))

    revoke(world, retired.kid, django_capture_on_commit_callbacks)
    with pytest.raises(InvalidToken):
        gateway_call(earlier)
    remaining = set(SigningKey.objects.exclude(state="revoked").values_list("kid", flat=True))
    assert remaining == keys_before - {retired.kid}  # nothing new was needed
    assert gateway_call(token_for(world)).application.name == "Petstore client"


def test_a_server_that_accepts_no_signing_algorithm_still_revokes(
    world, django_capture_on_commit_callbacks
):
    signing, upcoming = key(world, "active"), key(world, "next")
    AuthorizationServer.objects.filter(pk=world.server.pk).update(allowed_algorithms=["PS256"])
    world.reload()
    revocation = revoke(world, signing.kid, django_capture_on_commit_callbacks)
    assert revocation.active == upcoming  # promoted: it needs no algorithm
    assert SigningKey.objects.get(kid=signing.kid).state == "revoked"
    assert not SigningKey.objects.filter(server=world.server, state="next").exists()


@pytest.mark.parametrize(
    ("kid", "message"),
    [("nope", "has no signing key 'nope'"), (None, "was already revoked")],
)
def test_an_unknown_or_revoked_kid_is_refused_and_changes_nothing(
    world, django_capture_on_commit_callbacks, kid, message
):
    if kid is None:
        kid = key(world, "next").kid
        revoke(world, kid, django_capture_on_commit_callbacks)
    keys = list(SigningKey.objects.values_list("kid", "state"))
    events = AuditEvent.objects.count()
    with pytest.raises(SigningKeyError, match=message):
        revoke(world, kid, django_capture_on_commit_callbacks)
    assert list(SigningKey.objects.values_list("kid", "state")) == keys
    assert AuditEvent.objects.count() == events


def test_an_external_server_has_no_keys_to_revoke(db):
    server = AuthorizationServer.objects.create(name="IdP", issuer="https://idp.example.com")
    with pytest.raises(SigningKeyError, match="only internal ones sign tokens"):
        revoke_signing_key(server, "any")


# --- entry points ------------------------------------------------------------------------


def test_the_rest_action_revokes_and_says_what_signs_now(
    world, admin, django_capture_on_commit_callbacks
):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(admin)
    signing, upcoming = key(world, "active"), key(world, "next")
    url = f"/api/v1/authorization-servers/{world.server.pk}/revoke-key/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"kid": signing.kid, "reason": "leak"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["revoked_kid"] == signing.kid
    assert body["previous_state"] == "active"
    assert body["active_kid"] == upcoming.kid
    assert set(body["published_kids"]) == published_kids()
    assert signing.kid not in body["published_kids"]
    assert AuditEvent.objects.get(action="revoke-signing-key").after["reason"] == "leak"

    again = client.post(url, {"kid": signing.kid}, format="json")
    assert again.status_code == 400
    assert "already revoked" in again.json()["detail"]
    assert client.post(url, {}, format="json").status_code == 400  # kid is required


def test_the_console_confirms_before_revoking(world, admin, django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(admin)
    signing = key(world, "active")
    confirm_url = reverse("console:server-revoke-confirm", args=[world.server.pk, signing.kid])
    revoke_url = reverse("console:server-revoke", args=[world.server.pk, signing.kid])
    page = client.get(confirm_url)
    assertContains(page, f"Revoke signing key {signing.kid}?")
    assertContains(page, "It is the active key")
    assertContains(page, f'action="{revoke_url}"')
    assert SigningKey.objects.get(pk=signing.pk).state == "active"  # asking changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(revoke_url, follow=True)
    detail = reverse("console:server-detail", args=[world.server.pk]) + "#signing-keys"
    assertRedirects(response, detail, fetch_redirect_response=False)
    assertContains(response, f"Key {signing.kid} is revoked and no longer published")
    assert SigningKey.objects.get(pk=signing.pk).state == "revoked"
    assertRedirects(client.get(confirm_url), detail, fetch_redirect_response=False)
    assertContains(client.post(revoke_url, follow=True), "The key was not revoked")


def test_the_command_revokes_by_kid(world, django_capture_on_commit_callbacks):
    signing, upcoming = key(world, "active"), key(world, "next")
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        # "--": a thumbprint kid may start with "-" (1 run in 32), as on a shell.
        call_command("revoke_signing_key", "--", signing.kid, reason="incident 42", stdout=out)
    assert out.getvalue().strip() == f"Revoked {signing.kid} of Gatekeep; {upcoming.kid} signs now."
    assert SigningKey.objects.get(pk=signing.pk).state == "revoked"
    event = AuditEvent.objects.get(action="revoke-signing-key")
    assert (event.actor_name, event.after["reason"]) == ("manage.py", "incident 42")
    with pytest.raises(CommandError, match="There is no signing key 'nope'"):
        call_command("revoke_signing_key", "--", "nope")
    with pytest.raises(CommandError, match="already revoked"):
        call_command("revoke_signing_key", "--", signing.kid)
