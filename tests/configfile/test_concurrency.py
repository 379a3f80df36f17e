"""An apply while admins edit through REST wins whole or fails whole (real PostgreSQL)."""

import threading
import time

import pytest
from django.db import connection, connections
from rest_framework.authtoken.models import Token

from accounts.roles import Role
from apis.models import Api
from applications.models import Application
from configfile.apply import ApplyConflict, apply, diff
from configfile.export import export_text
from configfile.problems import ConfigInvalid
from core.models import ConfigRevision
from tests.configfile.conftest import build_gateway
from tests.personas import staff_member
from tests.rest_api.conftest import json_client

NEW_APIS = 40
SLOW_APIS = 1500

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and deadlocks need PostgreSQL (DATABASE_URL)")


def file_with_many_changes(new_apis: int = NEW_APIS) -> str:
    text = export_text().replace("Shop number", "Applied shop")
    new = "".join(
        f"- base_path: /applied{n}/v1\n  name: Applied {n}\n"
        "  upstream_url: http://127.0.0.1:9000/x\n"
        "  routes:\n  - {method: GET, path: /a}\n  - {method: GET, path: /b}\n"
        for n in range(new_apis)
    )
    return text.replace("applications:\n", new + "applications:\n", 1)


def test_an_apply_racing_rest_edits_is_all_or_nothing(postgres):
    build_gateway(apis=2, routes=2, applications=3)
    admin = staff_member("ada", Role.ADMINISTRATOR)
    key = Token.objects.create(user=admin).key
    text = file_with_many_changes()
    outcome, statuses = {}, []
    shop0 = Api.objects.get(base_path="/shop0/v1").pk
    app = Application.objects.get(name="client-0000").pk

    def run_apply():
        try:
            time.sleep(0.05)
            outcome["result"] = apply(text, actor="ci")
        except (ApplyConflict, ConfigInvalid) as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    def edit_through_rest():
        client = json_client(HTTP_AUTHORIZATION=f"Token {key}")
        n = 0
        try:
            # Edits before, during (they wait for the apply's lock) and after the apply.
            while n < 12:
                n += 1
                responses = [
                    client.patch(f"/api/v1/apis/{shop0}/", {"description": f"REST {n}"}),
                    client.patch(f"/api/v1/applications/{app}/", {"description": f"REST {n}"}),
                    client.post(
                        f"/api/v1/apis/{shop0}/routes/", {"method": "GET", "path": f"/rest{n}"}
                    ),
                ]
                statuses.extend(response.status_code for response in responses)
        finally:
            connections.close_all()

    editor = threading.Thread(target=edit_through_rest)
    applier = threading.Thread(target=run_apply)
    editor.start()
    applier.start()
    applier.join(120)
    editor.join(120)

    assert set(statuses) <= {200, 201, 409}, statuses
    assert statuses.count(200) + statuses.count(201) >= 30
    created = Api.objects.filter(base_path__startswith="/applied").count()
    if "result" in outcome:
        assert outcome["result"].applied
        assert created == NEW_APIS
        # What is left to change is only what REST edited after the apply committed.
        leftover = {change.where for change in diff(text).changes}
        assert leftover <= {"apis[/shop0/v1]", "applications[client-0000]"}
        assert Api.objects.get(base_path="/shop1/v1").description == "Applied shop 1"
    else:
        assert isinstance(outcome["error"], ApplyConflict), outcome
        assert created == 0
        assert Api.objects.get(base_path="/shop1/v1").description == "Shop number 1"


def test_rest_edits_wait_for_an_apply_holding_the_configuration(postgres):
    """While an apply runs, a REST write the data plane sees (it moves the config version)
    waits for it, then lands after it: never between."""
    build_gateway(apis=1, routes=1, applications=1)
    admin = staff_member("ada", Role.ADMINISTRATOR)
    client = json_client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin).key}")
    app = Application.objects.get(name="client-0000").pk
    # Large enough that the apply (bulk writes) still runs when the edit is sent.
    text = file_with_many_changes(SLOW_APIS)
    done = {}

    def run_apply():
        try:
            done["result"] = apply(text, actor="ci")
            done["at"] = time.monotonic()
        finally:
            connections.close_all()

    applier = threading.Thread(target=run_apply)
    applier.start()
    wait_for_the_configuration_lock()
    sent = time.monotonic()
    # An edit of a row the apply does not change (one it changes would deadlock with it:
    # the apply waits for the row, the edit for the configuration).
    response = client.patch(
        f"/api/v1/applications/{app}/", {"identifying_claims": {"client_id": "after"}}
    )
    answered = time.monotonic()
    applier.join(120)
    assert response.status_code == 200, response.content
    assert done["result"].applied
    assert done["at"] > sent  # the apply was still running when the edit was sent...
    assert answered >= done["at"] - 0.05  # ...and the edit was answered only after it
    assert Application.objects.get(pk=app).identifying_claims == {"client_id": "after"}
    assert Api.objects.filter(base_path__startswith="/applied").count() == SLOW_APIS


def wait_for_the_configuration_lock() -> None:
    """Until another session holds the config-version row (apply's first step)."""
    table = ConfigRevision._meta.db_table
    with connection.cursor() as cursor:
        for _ in range(500):
            cursor.execute(
                "SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = %s AND l.mode = 'RowShareLock' AND l.granted "
                "AND l.pid <> pg_backend_pid()",
                [table],
            )
            if cursor.fetchone():
                return
            time.sleep(0.01)
    raise AssertionError("the apply never locked the configuration")
