"""Where an audit event came from: the surface of the request (console, REST API, Django
admin) with the client's address, a forged X-Forwarded-For from an untrusted peer ignored,
and the process for changes made outside a request (shell, commands)."""

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from accounts.roles import Role
from apis.models import Api
from core.audit_context import Source, audit_source, current, process_source
from core.models import AuditEvent
from tests.personas import staff_member
from tests.world import build_world


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_django_admin_and_the_rest_api_are_told_apart(db):
    world = build_world()
    ada = staff_member("ada", Role.ADMINISTRATOR)
    admin = Client(REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.66")
    admin.force_login(ada)
    admin.post("/admin/apis/api/", {"action": "activate", "_selected_action": [world.api.pk]})
    assert Api.objects.get(pk=world.api.pk).status == "active"
    event = AuditEvent.objects.filter(action="activate").latest("id")
    # The forwarded address came from a peer that is no trusted proxy: not believed.
    assert (event.source, event.client_address) == ("admin", "198.51.100.7")

    rest = Client(
        REMOTE_ADDR="192.0.2.44", HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=ada).key}"
    )
    response = rest.post(f"/api/v1/apis/{world.api.pk}/deactivate/")
    assert response.status_code == 200, response.content
    event = AuditEvent.objects.filter(action="deactivate").latest("id")
    assert (event.source, event.client_address) == ("rest", "192.0.2.44")


def test_changes_outside_a_request_name_their_process():
    assert process_source(["manage.py", "shell"]) == Source.SHELL
    assert process_source(["/srv/gatekeep/manage.py", "apply_config"]) == Source.CONFIG_APPLY
    assert process_source(["manage.py", "rotate_signing_key"]) == Source.COMMAND
    assert process_source(["celery", "-A", "gateway_admin", "worker"]) == Source.SYSTEM
    with audit_source(Source.CONFIG_APPLY, "10.0.0.5"):
        assert current().source == "config-apply"
        assert current().client_address == "10.0.0.5"
    assert current().client_address is None
