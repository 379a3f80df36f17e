from datetime import timedelta

import pytest
from django.utils import timezone

from authservers.models import AuthorizationServer, JwksSnapshot
from authservers.tasks import refresh_due_jwks
from gateway_admin.celery import app


@pytest.fixture
def no_leftover_messages():
    yield
    app.control.purge()  # with a real broker, nothing consumes the default queue in tests


@pytest.mark.django_db
def test_the_beat_tick_queues_only_servers_whose_keys_are_due(idp, no_leftover_messages):
    never = AuthorizationServer.objects.create(name="never", issuer=idp.issuer)
    old = AuthorizationServer.objects.create(name="old", issuer="https://old.example.com")
    fresh = AuthorizationServer.objects.create(name="fresh", issuer="https://fresh.example.com")
    JwksSnapshot.objects.create(server=old, fetched_at=timezone.now() - timedelta(minutes=10))
    JwksSnapshot.objects.create(server=fresh, fetched_at=timezone.now())
    assert sorted(refresh_due_jwks.run()) == sorted([never.pk, old.pk])
