"""Personas for the admin API: Ada is an administrator, Bob is a signed-in non-staff user,
an anonymous client has no credentials at all, and `role_client(role)` is a staff member
with any other role (or none)."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.roles import Role
from tests.personas import staff_member


def json_client(**credentials) -> APIClient:
    """An API client that sends JSON, as scripts do (the API accepts nothing else)."""
    client = APIClient()
    client.default_format = "json"
    client.credentials(**credentials)
    return client


@pytest.fixture
def staff_user(db):
    return staff_member("ada", Role.ADMINISTRATOR)


@pytest.fixture
def staff_token(staff_user) -> str:
    return Token.objects.create(user=staff_user).key


@pytest.fixture
def staff_client(staff_token) -> APIClient:
    return json_client(HTTP_AUTHORIZATION=f"Token {staff_token}")


@pytest.fixture
def member_client(db) -> APIClient:
    bob = get_user_model().objects.create_user("bob", "bob@example.com", "pw")
    return json_client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=bob).key}")


@pytest.fixture
def anon_client(db) -> APIClient:
    return json_client()


@pytest.fixture
def role_client(db):
    """role_client(Role.VIEWER): a token client of a new staff member with that role."""

    def make(role: Role | None) -> APIClient:
        user = staff_member(f"staff-{role or 'none'}", role)
        return json_client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    return make
