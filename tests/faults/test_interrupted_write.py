"""An admin write cut off by the database going away leaves nothing half-written.

Every change runs in one transaction (core/changes.py): the row, its audit event
and the config version's counter. The database dropping the connection in the
middle (here: the audit event's INSERT raising OperationalError, as psycopg does
when the server closes the connection) rolls all of it back, the admin API answers
503, and no version is announced.
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError
from rest_framework.test import APIClient

from apis.models import Api, Route
from core import config_bus
from core.config_version import database_version, version_number
from core.models import AuditEvent


@pytest.fixture
def admin_client(transactional_db) -> APIClient:
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-1234567")
    client = APIClient()
    client.force_login(admin)
    return client


def connection_lost(*args, **kwargs):
    raise OperationalError("server closed the connection unexpectedly")


def test_a_write_interrupted_by_the_database_leaves_no_partial_rows(admin_client, monkeypatch):
    announced = []
    monkeypatch.setattr(config_bus, "announce", lambda version, number: announced.append(number))
    before = version_number(database_version())
    monkeypatch.setattr(AuditEvent, "save", connection_lost)

    data = {"name": "half", "base_path": "/half", "upstream_url": "https://half.example"}
    response = admin_client.post("/api/v1/apis/", data, format="json")

    assert response.status_code == 503, response.content
    assert response.json()["code"] == "database_unavailable"
    assert not Api.objects.exists()  # the API row was inserted, then rolled back
    assert not Route.objects.exists()
    monkeypatch.undo()
    assert not AuditEvent.objects.exists()
    assert version_number(database_version()) == before
    assert announced == []


def test_the_same_write_once_the_database_is_back_commits_whole(admin_client, monkeypatch):
    announced = []
    monkeypatch.setattr(config_bus, "announce", lambda version, number: announced.append(number))
    before = version_number(database_version())
    data = {"name": "whole", "base_path": "/whole", "upstream_url": "https://whole.example"}
    response = admin_client.post("/api/v1/apis/", data, format="json")
    assert response.status_code == 201, response.content
    assert Api.objects.filter(base_path="/whole").exists()
    assert AuditEvent.objects.filter(object_type="api", action="create").exists()
    # A new API is inactive: the data plane serves nothing new, so no version moves
    # (core/config_signals.py, proxy_reads).
    assert version_number(database_version()) == before
    assert announced == []
