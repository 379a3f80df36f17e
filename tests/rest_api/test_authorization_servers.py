import itertools
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from authservers.models import AuthorizationServer, JwksSnapshot, SigningKey
from authservers.signing import FETCH_MARGIN_SECONDS
from authservers.tasks import refresh_jwks as refresh_task
from core.models import AuditEvent
from tests.rest_api.crud import StaffOnlyCRUDTests, assert_field_errors, assert_problem

_numbers = itertools.count(1)
URL = "/api/v1/authorization-servers/"
# How long a key published now waits before it may sign (issue 20).
SAFE_AFTER = settings.GATEWAY_JWKS_MAX_AGE_SECONDS + FETCH_MARGIN_SECONDS


def server_data(**overrides) -> dict:
    n = next(_numbers)
    return {"name": f"IdP {n}", "kind": "external", "issuer": f"https://idp{n}.example.com"} | (
        overrides
    )


class TestAuthorizationServers(StaffOnlyCRUDTests):
    model = AuthorizationServer
    update_data = {"leeway_seconds": 30, "allowed_algorithms": ["ES256"]}
    invalid_data = (
        {"name": "x", "issuer": "http://idp.example.com", "allowed_algorithms": ["none", "HS256"]},
        {"issuer", "allowed_algorithms"},
    )

    def list_url(self) -> str:
        return URL

    def create_data(self) -> dict:
        return server_data()


def test_defaults_and_jwks_status_are_returned(staff_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no key fetch in this test
        body = staff_client.post(URL, server_data()).json()
    assert body["allowed_algorithms"] == ["RS256", "RS384", "RS512", "PS256", "ES256"]
    assert body["leeway_seconds"] == 60
    assert body["jwks_status"] is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"issuer": "not a url"}, "issuer"),
        ({"issuer": "https://u:p@idp.example.com"}, "issuer"),
        ({"jwks_uri": "ftp://idp.example.com/jwks"}, "jwks_uri"),
        ({"discovery_url": "http://idp.example.com/.well-known"}, "discovery_url"),
        ({"allowed_algorithms": []}, "allowed_algorithms"),
        ({"allowed_algorithms": "RS256"}, "allowed_algorithms"),
        ({"kind": "federated"}, "kind"),
        ({"public_certificate": "-----BEGIN CERTIFICATE-----\nnope\n"}, "public_certificate"),
        ({"leeway_seconds": 3600}, "leeway_seconds"),
        ({"leeway_seconds": -1}, "leeway_seconds"),
        ({"jwks_refresh_seconds": 5}, "jwks_refresh_seconds"),
    ],
)
def test_invalid_servers_are_field_errors(staff_client, overrides, field):
    response = staff_client.post(URL, server_data(**overrides))
    assert_field_errors(response, {field})
    assert not AuthorizationServer.objects.exists()


def test_a_pem_public_key_that_parses_is_accepted(staff_client):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    response = staff_client.post(URL, server_data(public_certificate=pem))
    assert response.status_code == 201, response.content
    assert response.json()["public_certificate"] == pem.strip()


def test_a_weak_rsa_key_is_refused(staff_client):
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert_field_errors(
        staff_client.post(URL, server_data(public_certificate=pem)), {"public_certificate"}
    )


def test_refresh_jwks_fetches_the_keys_and_shows_them_in_jwks_status(staff_client, idp):
    server = staff_client.post(URL, server_data(issuer=idp.issuer)).json()
    response = staff_client.post(f"{URL}{server['id']}/refresh-jwks/")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "key_ids": ["rsa-1", "ec-1"], "error": ""}
    assert idp.discovery_hits == 1 and idp.hits == 1

    status = staff_client.get(f"{URL}{server['id']}/").json()["jwks_status"]
    assert status["key_ids"] == ["rsa-1", "ec-1"]
    assert status["fetched_at"] is not None
    assert status["last_error"] == ""


def test_a_failed_refresh_is_a_502_problem_and_keeps_the_last_good_keys(staff_client, idp, caplog):
    server = staff_client.post(URL, server_data(jwks_uri=f"{idp.url}/jwks")).json()
    staff_client.post(f"{URL}{server['id']}/refresh-jwks/")
    idp.mode = "error"
    response = staff_client.post(f"{URL}{server['id']}/refresh-jwks/")
    body = assert_problem(response, 502, "jwks_fetch_failed")
    # The admin gets the uniform message (no status code to map ports with); the log the cause.
    host = idp.url.removeprefix("http://")
    assert body["last_error"] == (
        f"The key set could not be fetched from {host} "
        "(connection failed or the answer was not a key set)."
    )
    assert "answered HTTP 500" in caplog.text
    assert body["key_ids"] == ["rsa-1", "ec-1"]
    assert body["last_error"] in body["detail"]
    assert "the last good keys (rsa-1, ec-1) keep serving" in body["detail"]
    status = staff_client.get(f"{URL}{server['id']}/").json()["jwks_status"]
    assert status["last_error"] == body["last_error"] and status["last_error_at"] is not None
    assert status["key_ids"] == ["rsa-1", "ec-1"]


def test_a_refresh_that_never_got_keys_says_so(staff_client, idp):
    idp.mode = "html"
    server = staff_client.post(URL, server_data(jwks_uri=f"{idp.url}/jwks")).json()
    response = staff_client.post(f"{URL}{server['id']}/refresh-jwks/")
    body = assert_problem(response, 502, "jwks_fetch_failed")
    assert body["key_ids"] == []
    assert "no keys were ever fetched" in body["detail"]


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Server ids handed to the refresh_jwks Celery task (instead of running it)."""
    ids: list[int] = []
    monkeypatch.setattr(refresh_task, "delay", ids.append)
    return ids


def test_creating_an_external_server_queues_its_first_key_fetch_after_commit(
    staff_client, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        created = staff_client.post(URL, server_data())
        assert created.status_code == 201, created.content
    assert queued == []  # nothing is queued inside the transaction
    for callback in callbacks:
        callback()
    assert queued == [created.json()["id"]]


def test_the_queued_fetch_gets_the_keys_with_no_manual_refresh(
    staff_client, idp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # Celery runs eagerly in tests
        created = staff_client.post(URL, server_data(issuer=idp.issuer))
    assert JwksSnapshot.objects.get(server_id=created.json()["id"]).key_ids == ["rsa-1", "ec-1"]
    status = staff_client.get(f"{URL}{created.json()['id']}/").json()["jwks_status"]
    assert status["key_ids"] == ["rsa-1", "ec-1"] and status["fetched_at"] is not None


def test_changing_the_key_source_queues_a_fetch_and_other_changes_do_not(
    staff_client, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        pk = staff_client.post(URL, server_data()).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.patch(f"{URL}{pk}/", {"leeway_seconds": 10})
    assert queued == [pk]
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.patch(f"{URL}{pk}/", {"jwks_uri": "https://keys.example.com/jwks"})
    assert queued == [pk, pk]


def test_internal_servers_queue_no_fetch(staff_client, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(URL, server_data(kind="internal", issuer="https://gw.example.com"))
    assert queued == []  # their keys are made by the gateway, not fetched


def test_rotate_key_is_400_for_an_external_server(staff_client):
    server = staff_client.post(URL, server_data()).json()
    response = staff_client.post(f"{URL}{server['id']}/rotate-key/")
    body = assert_problem(response, 400, "rotation_refused")
    assert "internal" in body["detail"]
    assert not AuditEvent.objects.filter(action__startswith="rotate").exists()


def test_rotate_key_publishes_a_new_signing_key_for_the_internal_server(clock, staff_client):
    server = staff_client.post(
        URL, server_data(kind="internal", issuer="https://gateway.example.com")
    ).json()
    clock.advance(SAFE_AFTER)  # its next key has been published long enough
    first = staff_client.post(f"{URL}{server['id']}/rotate-key/")
    assert first.status_code == 200, first.content
    clock.advance(SAFE_AFTER)
    second = staff_client.post(f"{URL}{server['id']}/rotate-key/")
    assert second.status_code == 200
    assert first.json()["kid"] and second.json()["kid"]
    assert first.json()["kid"] != second.json()["kid"]
    assert second.json()["state"] == "active"

    # The new signing key is published with the server's keys.
    status = staff_client.get(f"{URL}{server['id']}/").json()["jwks_status"]
    assert second.json()["kid"] in status["key_ids"]
    events = AuditEvent.objects.filter(
        object_type="authorizationserver", action__startswith="rotate"
    )
    assert events.count() == 2
    assert all(e.actor.username == "ada" for e in events)
    assert "private" not in str([e.before for e in events] + [e.after for e in events]).lower()


def test_a_second_rotation_in_a_row_is_409_until_verifiers_can_have_the_key(
    clock, staff_client, settings
):
    """Issue 20: the key a rotation publishes signs only once every verifier's cached JWKS
    (Cache-Control max-age) can hold it; sooner is refused, with when to retry."""
    max_age = settings.GATEWAY_JWKS_MAX_AGE_SECONDS
    server = staff_client.post(
        URL, server_data(kind="internal", issuer="https://gateway.example.com")
    ).json()
    rotate = f"{URL}{server['id']}/rotate-key/"
    clock.advance(SAFE_AFTER)
    first = staff_client.post(rotate)
    assert first.status_code == 200, first.content
    upcoming = SigningKey.objects.get(server_id=server["id"], state="next")
    keys_before = set(SigningKey.objects.values_list("kid", "state"))

    second = staff_client.post(rotate)

    body = assert_problem(second, 409, "rotation_too_soon")
    assert second["Retry-After"] == str(SAFE_AFTER)
    assert body["retry_after_seconds"] == SAFE_AFTER
    assert body["kid"] == upcoming.kid
    safe_at = datetime.fromtimestamp(clock.time() + SAFE_AFTER, UTC)
    assert body["signs_from"] == safe_at.isoformat().replace("+00:00", "Z")
    assert f"{safe_at:%Y-%m-%d %H:%M:%S} UTC" in body["detail"]
    assert f"rotate again in {SAFE_AFTER} s" in body["detail"]
    assert f"cache the key set for {max_age} s" in body["detail"]
    # Refused means untouched: the key that signs, the published keys, the audit trail.
    assert set(SigningKey.objects.values_list("kid", "state")) == keys_before
    assert AuditEvent.objects.filter(action="rotate-signing-key").count() == 1

    clock.advance(SAFE_AFTER - 1)
    almost = staff_client.post(rotate)
    assert_problem(almost, 409, "rotation_too_soon")
    assert almost["Retry-After"] == "1"

    clock.advance(1)
    third = staff_client.post(rotate)
    assert third.status_code == 200, third.content
    assert third.json()["kid"] == upcoming.kid
    assert AuditEvent.objects.filter(action="rotate-signing-key").count() == 2


def test_the_schema_declares_the_rotation_too_soon_problem(staff_client):
    schema = staff_client.get("/api/v1/schema/?format=json").json()
    responses = schema["paths"]["/api/v1/authorization-servers/{id}/rotate-key/"]["post"][
        "responses"
    ]
    (content,) = responses["409"]["content"].values()
    ref = content["schema"]["$ref"]
    problem = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"retry_after_seconds", "kid", "signs_from", "code", "detail"} <= set(
        problem["properties"]
    )
