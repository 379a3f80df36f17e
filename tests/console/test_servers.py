"""Authorization servers in the console: create/edit, key health, Refresh now, and the
internal issuer's signing keys with Rotate key."""

from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertRedirects

from authservers.models import AuthorizationServer, JwksSnapshot, SigningKey
from authservers.signing import FETCH_MARGIN_SECONDS
from authservers.tasks import refresh_jwks as refresh_task
from core.models import AuditEvent
from tests.signing_keys import publish_next_key_long_ago


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _form(**overrides) -> dict:
    data = {
        "name": "Dev IdP",
        "kind": "external",
        "issuer": "",
        "allowed_algorithms": ["RS256", "ES256"],
        "leeway_seconds": "60",
        "jwks_refresh_seconds": "300",
        "max_stale_seconds": "86400",
        "token_lifetime_seconds": "3600",
    }
    data.update(overrides)
    return data


def test_adding_an_external_server_queues_its_key_fetch(
    console, idp, ada, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        url = reverse("console:server-create")
        response = console.post(url, _form(issuer=idp.issuer), follow=True)
        server = AuthorizationServer.objects.get()
        assert idp.hits == 0  # queued until the transaction commits
    assertRedirects(response, reverse("console:server-detail", args=[server.pk]))
    assert _messages(response) == [
        "Dev IdP created.",
        "Fetching the keys of Dev IdP in the background; reload to see them.",
    ]
    assert server.allowed_algorithms == ["RS256", "ES256"]
    assert AuditEvent.objects.get(object_type="authorizationserver").actor == ada
    assert len(callbacks) >= 1 and idp.hits == 1  # the commit ran the refresh_jwks task
    detail = console.get(reverse("console:server-detail", args=[server.pk]))
    assert detail.context["health"].state == "ok"
    assertContains(detail, "rsa-1")


def test_with_inline_celery_the_new_servers_keys_are_there_at_once(transactional_db, console, idp):
    """The embedded setup (no broker): the task runs as the creation commits."""
    response = console.post(reverse("console:server-create"), _form(issuer=idp.issuer), follow=True)
    assert _messages(response) == ["Dev IdP created.", "Keys of Dev IdP fetched: rsa-1, ec-1."]
    assert response.context["health"].state == "ok"


def test_adding_a_server_in_the_django_admin_queues_its_key_fetch(
    db, idp, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[int] = []
    monkeypatch.setattr(refresh_task, "delay", queued.append)
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(root)
    form = {
        "name": "Admin IdP",
        "kind": "external",
        "issuer": idp.issuer,
        "allowed_algorithms": '["RS256"]',
        "leeway_seconds": "60",
        "jwks_refresh_seconds": "300",
        "max_stale_seconds": "86400",
        "token_lifetime_seconds": "3600",
        **{
            f"{prefix}-{name}": value
            for prefix in ("jwks_snapshot", "signing_keys")
            for name, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))
        },
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:authservers_authorizationserver_add"), form)
    assert response.status_code == 302, response.content[:3000]
    assert queued == [AuthorizationServer.objects.get(name="Admin IdP").pk]


def test_the_create_form_offers_the_default_algorithms(console):
    form = console.get(reverse("console:server-create")).context["form"]
    assert form["allowed_algorithms"].value() == ["RS256", "RS384", "RS512", "PS256", "ES256"]


def test_an_unreachable_issuer_is_saved_but_reported(transactional_db, console, idp):
    idp.mode = "error"
    response = console.post(reverse("console:server-create"), _form(issuer=idp.issuer), follow=True)
    assert response.context["health"].state == "error"
    assert any(m.startswith("Could not fetch the keys of Dev IdP:") for m in _messages(response))
    assertContains(response, "Never fetched")


def test_invalid_settings_are_shown_next_to_their_fields(console):
    response = console.post(
        reverse("console:server-create"),
        _form(issuer="http://idp.example.com", leeway_seconds="900", allowed_algorithms=[]),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["issuer"]
    assert errors["allowed_algorithms"] == ["This field is required."]
    assert AuthorizationServer.objects.exists() is False


def test_the_service_rules_reach_the_form(console):
    response = console.post(
        reverse("console:server-create"),
        _form(issuer="https://idp.example.com", leeway_seconds="900"),
    )
    assert response.context["form"].errors["leeway_seconds"] == [
        "Keep the leeway at 300 seconds or less."
    ]


def test_editing_keeps_the_kind(console, server):
    response = console.post(
        reverse("console:server-edit", args=[server.pk]),
        _form(name="Renamed", kind="internal", issuer=server.issuer, leeway_seconds="30"),
    )
    assertRedirects(response, reverse("console:server-detail", args=[server.pk]))
    server.refresh_from_db()
    assert (server.name, server.kind, server.leeway_seconds) == ("Renamed", "external", 30)


def test_refresh_now_reports_success_and_keeps_good_keys_on_failure(console, server, idp):
    url = reverse("console:server-refresh", args=[server.pk])
    response = console.post(url, follow=True)
    assert "Keys of Dev IdP refreshed: rsa-1, ec-1." in _messages(response)
    idp.mode = "html"
    response = console.post(url, follow=True)
    assert any(m.startswith("Could not refresh the keys of Dev IdP") for m in _messages(response))
    health = response.context["health"]
    assert (health.state, health.label) == ("warning", "Refresh failing")
    assert JwksSnapshot.objects.get(server=server).key_ids == ["rsa-1", "ec-1"]


def test_the_list_shows_kind_health_and_key_ids(console, server):
    AuthorizationServer.objects.create(name="Silent", issuer="https://silent.example.com")
    response = console.get(reverse("console:server-list"))
    assertContains(response, "Healthy")
    assertContains(response, "Not fetched yet")
    assertContains(response, "rsa-1")


def test_deleting_is_confirmed_and_names_the_apis_that_trust_it(console, ready_api, server):
    page = console.get(reverse("console:server-delete-confirm", args=[server.pk]))
    assertContains(page, "1 APIs trust it and stop accepting its tokens.")
    response = console.post(reverse("console:server-delete", args=[server.pk]), follow=True)
    assert "Dev IdP deleted." in _messages(response)
    assert AuthorizationServer.objects.exists() is False


# --- internal issuer ---------------------------------------------------------------


@pytest.fixture
def internal(console):
    console.post(
        reverse("console:server-create"),
        _form(name="Gatekeep", kind="internal", issuer="http://127.0.0.1:8000"),
    )
    return AuthorizationServer.objects.get(kind="internal")


def test_an_internal_server_gets_signing_keys_and_shows_its_endpoints(console, internal, settings):
    settings.GATEWAY_PUBLIC_URL = (
        "http://gateway.example.com"  # the public origin, not the admin one
    )
    response = console.get(reverse("console:server-detail", args=[internal.pk]))
    states = sorted(row["key"].state for row in response.context["signing_keys"])
    assert states == ["active", "next"]
    assert ("Token", "http://gateway.example.com/oauth2/token") in response.context["endpoints"]
    assert ("JWKS", "http://gateway.example.com/oauth2/jwks") in response.context["endpoints"]
    assertContains(response, "Rotate key")
    assert response.context["health"].state == "ok"


def test_rotating_the_key_is_confirmed_and_promotes_the_next_key(console, internal):
    next_key = SigningKey.objects.get(server=internal, state="next")
    publish_next_key_long_ago(internal)
    page = console.get(reverse("console:server-rotate-confirm", args=[internal.pk]))
    assertContains(page, "stays published until its tokens expire")
    response = console.post(reverse("console:server-rotate", args=[internal.pk]), follow=True)
    assert f"Key {next_key.kid} signs now; the previous key is retired." in _messages(response)
    next_key.refresh_from_db()
    assert next_key.state == "active"
    assert SigningKey.objects.filter(server=internal, state="retired").count() == 1
    assert AuditEvent.objects.filter(action="rotate-signing-key").count() == 1


def test_rotating_too_soon_is_refused_with_when_it_becomes_possible(clock, console, internal):
    next_key = SigningKey.objects.get(server=internal, state="next")
    wait = settings.GATEWAY_JWKS_MAX_AGE_SECONDS + FETCH_MARGIN_SECONDS
    safe_at = datetime.fromtimestamp(clock.time() + wait, UTC)
    page = console.get(reverse("console:server-rotate-confirm", args=[internal.pk]))
    assertContains(page, "a rotation sooner than that is refused")

    response = console.post(reverse("console:server-rotate", args=[internal.pk]), follow=True)

    (message,) = _messages(response)
    assert message.startswith("The key was not rotated: Too soon to rotate")
    assert f"may sign from {safe_at:%Y-%m-%d %H:%M:%S} UTC" in message
    assert f"rotate again in {wait} s" in message
    next_key.refresh_from_db()
    assert next_key.state == "next"
    assert not AuditEvent.objects.filter(action="rotate-signing-key").exists()


def test_external_servers_cannot_be_rotated(console, server):
    assert console.post(reverse("console:server-rotate", args=[server.pk])).status_code == 404
