"""Issue 12, finding 4: sign-ins, failed sign-ins and lockouts are in the audit trail.

Every surface (console, admin, OAuth2 login page, password grant) records who signed
in from where; failures name the username that was tried and never the password.
"""

import json

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from core.models import AuditEvent
from tests.accounts.conftest import ALICE_PASSWORD, LOGIN_PAGES, sign_in


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


@pytest.mark.parametrize("page", list(LOGIN_PAGES))
def test_a_sign_in_is_recorded_with_the_page_and_address(page, users):
    _, username, password = LOGIN_PAGES[page]

    response, _ = sign_in(page, password, HTTP_USER_AGENT="curl/8")

    assert response.status_code == 302
    (event,) = events("login")
    assert (event.actor, event.actor_name) == (users[username], username)
    assert (event.object_type, event.object_id, event.object_repr) == (
        "user",
        str(users[username].pk),
        username,
    )
    assert event.after == {"via": page, "address": "203.0.113.7", "user_agent": "curl/8"}


def test_a_password_grant_is_recorded_as_a_sign_in(issuer):
    assert issuer.password_grant().status_code == 200

    (event,) = events("login")
    assert event.actor == issuer.user
    assert event.after["via"] == "password-grant"
    assert event.after["address"] == "203.0.113.7"


@pytest.mark.parametrize("page", list(LOGIN_PAGES))
def test_a_failed_sign_in_is_recorded_without_the_password(page, users):
    sign_in(page, "hunter2-not-the-password")

    (event,) = events("login-failed")
    assert event.actor is None
    assert event.actor_name == "203.0.113.7"
    assert event.object_repr == LOGIN_PAGES[page][1]
    assert event.after["via"] == page
    assert event.after["reason"] == "invalid_credentials"
    everything = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert "hunter2" not in everything


def test_a_failed_password_grant_is_recorded_without_the_password(issuer):
    issuer.password_grant("hunter2-not-the-password")

    (event,) = events("login-failed")
    assert event.object_repr == "alice"
    assert event.after["via"] == "password-grant"
    assert "hunter2" not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_an_unknown_username_is_recorded_as_typed(db):
    Client(REMOTE_ADDR="203.0.113.7").post(
        "/console/login/", {"username": "root", "password": "toor"}
    )

    (event,) = events("login-failed")
    assert (event.object_id, event.object_repr) == ("", "root")


@pytest.mark.parametrize("page", list(LOGIN_PAGES))
def test_a_lockout_is_recorded_once_and_refused_attempts_after_it_too(page, users, settings):
    for _ in range(5):
        sign_in(page, "wrong")
    for _ in range(2):
        sign_in(page, LOGIN_PAGES[page][2])

    (lockout,) = events("lockout")
    assert lockout.object_repr == LOGIN_PAGES[page][1]
    assert lockout.actor_name == "203.0.113.7"
    assert lockout.after["via"] == page
    assert lockout.after["failures"] == 5
    assert lockout.after["locked_until"]
    reasons = [event.after["reason"] for event in events("login-failed")]
    assert reasons == ["invalid_credentials"] * 5 + ["locked_out"] * 2
    assert events("login") == []


def test_a_password_grant_lockout_is_recorded(issuer):
    for _ in range(6):
        issuer.password_grant("wrong")
    issuer.password_grant(ALICE_PASSWORD)

    assert [event.after["via"] for event in events("lockout")] == ["password-grant"]
    reasons = [event.after["reason"] for event in events("login-failed")]
    assert reasons == ["invalid_credentials"] * 5 + ["locked_out"] * 2


def test_the_console_audit_log_lists_sign_ins_and_the_dashboard_keeps_to_changes(users):
    sign_in("console", "wrong")
    _, console = sign_in("console", "pw-ada-1")

    log = console.get(reverse("console:audit-log"), {"object_type": "user"})
    assert [event.action for event, _ in log.context["rows"]] == ["login", "login-failed"]
    assertContains(log, "203.0.113.7")
    dashboard = console.get(reverse("console:dashboard"))
    assert list(dashboard.context["events"]) == []
