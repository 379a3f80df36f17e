"""applications.services: an application and its OAuth2 client are created, changed, given a
new secret and deleted together, and the plain client secret exists only in the return value
of create_application and rotate_secret."""

import base64

import pytest
from django.contrib.auth.hashers import check_password, identify_hasher
from django.core.exceptions import ValidationError
from django.test import Client
from oauth2_provider.models import AccessToken, get_application_model

from applications.models import Application
from applications.services import (
    create_application,
    delete_application,
    rotate_secret,
    save_application,
    set_redirect_uris,
    update_application,
)
from core.models import AuditEvent
from tests.personas import staff_member

OAuthClient = get_application_model()


def token_response(client_id: str, secret: str):
    """The internal issuer's /oauth2/token with client_credentials, called in process."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return Client().post(
        "/oauth2/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {basic}"
    )


def stored_secret(application: Application) -> str:
    return OAuthClient.objects.get(pk=application.oauth_client_id).client_secret


def test_create_returns_the_plain_secret_and_stores_only_its_hash(db):
    application, secret = create_application(name="Billing")

    stored = stored_secret(application)
    assert secret and secret not in stored
    identify_hasher(stored)  # a Django password hash, not the secret itself
    assert check_password(secret, stored)
    assert not check_password(secret + "x", stored)


def test_the_oauth_client_is_confidential_and_named_after_the_application(db):
    application, _ = create_application(name="Billing", redirect_uris="https://app.example/cb")

    client = OAuthClient.objects.get(pk=application.oauth_client_id)
    assert client.client_type == OAuthClient.CLIENT_CONFIDENTIAL
    assert client.name == "Billing"
    assert client.redirect_uris == "https://app.example/cb"
    assert application.client_id == client.client_id != ""


def test_each_application_gets_its_own_client_id_and_secret(db):
    first, first_secret = create_application(name="First")
    second, second_secret = create_application(name="Second")

    assert first.client_id != second.client_id
    assert first_secret != second_secret


def test_create_sets_the_apis_and_audits_without_the_secret(world):
    actor = staff_member("ada", None)
    application, secret = create_application(actor=actor, name="Billing", apis=[world.api])

    assert list(application.apis.all()) == [world.api]
    event = AuditEvent.objects.get(action="create", object_id=str(application.pk))
    assert event.object_type == "application"
    assert event.actor == actor
    assert secret not in str(event.after)


def test_an_invalid_application_leaves_no_oauth_client_behind(db):
    clients_before = OAuthClient.objects.count()

    with pytest.raises(ValidationError) as refused:
        create_application(name="Broken", identifying_claims=["not", "an", "object"])

    assert "identifying_claims" in refused.value.message_dict
    assert OAuthClient.objects.count() == clients_before
    assert not Application.objects.filter(name="Broken").exists()
    assert not AuditEvent.objects.exists()


def test_an_application_saved_as_a_model_gets_a_client_nobody_knows_the_secret_of(world):
    application = save_application(Application(name="Admin-made", custom_claims={"tier": "gold"}))

    assert application.pk is not None
    assert application.custom_claims == {"tier": "gold"}
    assert application.client_id != ""
    assert identify_hasher(stored_secret(application))
    assert token_response(application.client_id, "").status_code == 401


def test_the_secret_create_returns_gets_a_token(world):
    response = token_response(world.application.client_id, world.secret)

    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "Bearer"


def test_update_renames_the_oauth_client_and_audits_before_and_after(world):
    update_application(world.application, name="Petstore mobile", status="suspended")

    world.application.refresh_from_db()
    assert world.application.name == "Petstore mobile"
    assert OAuthClient.objects.get(pk=world.application.oauth_client_id).name == "Petstore mobile"
    event = AuditEvent.objects.get(action="update", object_type="application")
    assert event.before["name"] == "Petstore client"
    assert event.after["name"] == "Petstore mobile"
    assert event.after["status"] == "suspended"


def test_an_invalid_update_changes_nothing(world):
    with pytest.raises(ValidationError):
        update_application(world.application, name="x" * 101)

    assert Application.objects.get(pk=world.application.pk).name == "Petstore client"
    assert OAuthClient.objects.get(pk=world.application.oauth_client_id).name == "Petstore client"
    assert not AuditEvent.objects.filter(action="update").exists()


def test_rotate_makes_the_old_secret_fail_at_the_token_endpoint(world):
    client_id = world.application.client_id

    new_secret = rotate_secret(world.application)

    assert new_secret != world.secret
    refused = token_response(client_id, world.secret)
    assert refused.status_code == 401, refused.content
    assert refused.json()["error"] == "invalid_client"
    accepted = token_response(client_id, new_secret)
    assert accepted.status_code == 200, accepted.content
    assert Application.objects.get(pk=world.application.pk).client_id == client_id


def test_rotate_moves_the_applications_last_changed_date(world):
    before = Application.objects.get(pk=world.application.pk).updated_at

    rotate_secret(world.application)

    assert Application.objects.get(pk=world.application.pk).updated_at > before


def test_rotate_stores_only_the_hash_and_audits_without_either_secret(world):
    new_secret = rotate_secret(world.application, actor="manage.py")

    stored = stored_secret(world.application)
    assert new_secret not in stored
    assert check_password(new_secret, stored)
    assert not check_password(world.secret, stored)
    event = AuditEvent.objects.get(action="rotate-secret")
    assert event.actor_name == "manage.py"
    recorded = str(event.before) + str(event.after)
    assert new_secret not in recorded
    assert world.secret not in recorded


def test_rotate_gives_an_application_without_a_client_its_first_one(world):
    orphan = Application.objects.create(name="Imported", identifying_claims={"sub": "imported"})
    assert orphan.client_id == ""

    secret = rotate_secret(orphan)

    orphan.refresh_from_db()
    assert orphan.client_id != ""
    assert check_password(secret, stored_secret(orphan))


def test_delete_removes_the_oauth_client_and_its_tokens(world):
    response = token_response(world.application.client_id, world.secret)
    assert response.status_code == 200, response.content
    client_pk = world.application.oauth_client_id
    assert AccessToken.objects.filter(application_id=client_pk).exists()

    delete_application(world.application)

    assert not Application.objects.filter(pk=world.application.pk).exists()
    assert not OAuthClient.objects.filter(pk=client_pk).exists()
    assert not AccessToken.objects.filter(application_id=client_pk).exists()
    refused = token_response(world.application.client_id, world.secret)
    assert refused.status_code == 401
    event = AuditEvent.objects.get(action="delete", object_type="application")
    assert event.before["name"] == "Petstore client"
    assert event.after is None


# --- OAuth2 settings (issue 20): one write path, mirrored onto the DOT client -------------


def test_set_redirect_uris_is_a_validated_update_mirrored_onto_the_client(world):
    set_redirect_uris(world.application, "https://app.example/cb  http://[::1]:8080/cb")

    world.application.refresh_from_db()
    assert world.application.redirect_uris == ["https://app.example/cb", "http://[::1]:8080/cb"]
    client = OAuthClient.objects.get(pk=world.application.oauth_client_id)
    assert client.redirect_uris == "https://app.example/cb http://[::1]:8080/cb"
    event = AuditEvent.objects.get(action="update", object_type="application")
    assert event.after["redirect_uris"] == world.application.redirect_uris


@pytest.mark.parametrize(
    "uris",
    [
        ["http://app.example/cb"],
        ["https://app.example/cb#done"],
        ["https://app.example/*"],
        ["ftp://app.example/cb"],
        ["https://app.example/cb", "https://app.example/cb"],
    ],
)
def test_a_refused_redirect_uri_changes_neither_the_application_nor_the_client(world, uris):
    set_redirect_uris(world.application, ["https://app.example/cb"])

    with pytest.raises(ValidationError) as refused:
        set_redirect_uris(world.application, uris)

    assert set(refused.value.message_dict) == {"redirect_uris"}
    stored = Application.objects.get(pk=world.application.pk)
    assert stored.redirect_uris == ["https://app.example/cb"]
    client = OAuthClient.objects.get(pk=world.application.oauth_client_id)
    assert client.redirect_uris == "https://app.example/cb"


def test_the_rules_across_fields_live_in_clean(db):
    with pytest.raises(ValidationError) as public:
        create_application(
            name="SPA", client_type="public", grant_types=["client_credentials", "password"]
        )
    assert set(public.value.message_dict) == {"grant_types"}
    with pytest.raises(ValidationError) as code:
        create_application(name="Web", grant_types=["authorization_code"])
    assert set(code.value.message_dict) == {"redirect_uris"}
    assert not OAuthClient.objects.exists()


def test_the_dot_client_mirrors_client_type_and_redirect_uris(world):
    application, secret = create_application(
        name="SPA", client_type="public", redirect_uris=["https://spa.example/cb"]
    )

    assert secret is None
    client = OAuthClient.objects.get(pk=application.oauth_client_id)
    assert client.client_type == OAuthClient.CLIENT_PUBLIC
    assert client.authorization_grant_type == OAuthClient.GRANT_AUTHORIZATION_CODE
    with pytest.raises(ValidationError):
        rotate_secret(application)

    update_application(application, client_type="confidential", grant_types=["client_credentials"])

    client.refresh_from_db()
    assert client.client_type == OAuthClient.CLIENT_CONFIDENTIAL
    assert client.authorization_grant_type == OAuthClient.GRANT_CLIENT_CREDENTIALS
    secret = rotate_secret(application)
    assert token_response(application.client_id, secret).status_code == 200
