"""Access tokens live at most GATEWAY_MAX_TOKEN_LIFETIME_SECONDS: refused when an admin
sets a longer lifetime (model, REST, console), and capped when a token is minted."""

import base64
import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.roles import Role
from authservers.models import AuthorizationServer, SigningKey
from authservers.signing import issue_access_token, rotate_signing_key
from tests.personas import staff_member
from tests.world import World, build_world

MESSAGE = (
    "Must be between 1 and 86400 seconds (24 h): "
    "GATEWAY_MAX_TOKEN_LIFETIME_SECONDS caps the lifetime of access tokens."
)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db) -> World:
    return build_world()


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_the_default_cap_is_a_day(settings):
    assert settings.GATEWAY_MAX_TOKEN_LIFETIME_SECONDS == 86400


@pytest.mark.parametrize(
    ("lifetime", "valid"), [(1, True), (86400, True), (86401, False), (0, False)]
)
def test_an_internal_servers_lifetime_is_validated_against_the_cap(world, lifetime, valid):
    world.server.token_lifetime_seconds = lifetime
    if valid:
        world.server.full_clean()
        return
    with pytest.raises(ValidationError) as refused:
        world.server.full_clean()
    assert refused.value.message_dict == {"token_lifetime_seconds": [MESSAGE]}


def test_external_servers_issue_no_tokens_so_their_lifetime_is_not_checked(db):
    server = AuthorizationServer(
        name="IdP", issuer="https://idp.example.com", token_lifetime_seconds=10**6
    )
    server.full_clean()


def test_the_cap_follows_the_setting(world, settings):
    settings.GATEWAY_MAX_TOKEN_LIFETIME_SECONDS = 600
    world.server.token_lifetime_seconds = 601
    with pytest.raises(ValidationError, match="between 1 and 600 seconds"):
        world.server.full_clean()


def test_the_rest_api_refuses_a_longer_lifetime_with_a_field_error(world):
    client = APIClient()
    client.force_authenticate(staff_member("ada", Role.ADMINISTRATOR))
    url = f"/api/v1/authorization-servers/{world.server.pk}/"
    response = client.patch(url, {"token_lifetime_seconds": 7 * 86400}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["token_lifetime_seconds"] == [MESSAGE]
    assert AuthorizationServer.objects.get(pk=world.server.pk).token_lifetime_seconds == 3600
    accepted = client.patch(url, {"token_lifetime_seconds": 86400}, format="json")
    assert accepted.status_code == 200, accepted.content


def test_the_console_shows_the_refusal_next_to_the_field(world):
    client = Client()
    client.force_login(staff_member("ada", Role.ADMINISTRATOR))
    response = client.post(
        reverse("console:server-edit", args=[world.server.pk]),
        {
            "name": "Gatekeep",
            "kind": "internal",
            "issuer": world.server.issuer,
            "allowed_algorithms": ["RS256", "ES256"],
            "leeway_seconds": "60",
            "jwks_refresh_seconds": "300",
            "max_stale_seconds": "86400",
            "token_lifetime_seconds": "90000",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["token_lifetime_seconds"] == [MESSAGE]
    assert AuthorizationServer.objects.get(pk=world.server.pk).token_lifetime_seconds == 3600


def test_minting_caps_a_lifetime_saved_before_the_cap_was_lowered(world, settings):
    AuthorizationServer.objects.filter(pk=world.server.pk).update(token_lifetime_seconds=7200)
    world.reload()
    client_id = world.application.client_id
    claims = claims_of(issue_access_token(world.server, subject=client_id, client_id=client_id))
    assert claims["exp"] - claims["iat"] == 7200

    settings.GATEWAY_MAX_TOKEN_LIFETIME_SECONDS = 600
    claims = claims_of(issue_access_token(world.server, subject=client_id, client_id=client_id))
    assert claims["exp"] - claims["iat"] == 600


def test_the_token_endpoint_reports_and_signs_the_capped_lifetime(world, settings):
    AuthorizationServer.objects.filter(pk=world.server.pk).update(token_lifetime_seconds=7200)
    settings.GATEWAY_MAX_TOKEN_LIFETIME_SECONDS = 900
    basic = base64.b64encode(f"{world.application.client_id}:{world.secret}".encode()).decode()
    response = Client().post(
        "/oauth2/token",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["expires_in"] == 900
    claims = claims_of(body["access_token"])
    assert claims["exp"] - claims["iat"] == 900


def test_a_retired_key_stays_published_for_the_capped_lifetime_only(world, settings):
    AuthorizationServer.objects.filter(pk=world.server.pk).update(token_lifetime_seconds=7200)
    settings.GATEWAY_MAX_TOKEN_LIFETIME_SECONDS = 900
    world.reload()
    signing = SigningKey.objects.get(server=world.server, state="active")
    rotate_signing_key(world.server)
    retired = SigningKey.objects.get(pk=signing.pk)
    published_for = retired.published_until - retired.retired_at
    assert published_for == timedelta(seconds=900 + world.server.leeway_seconds)
