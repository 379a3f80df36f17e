"""Least privilege in the Django admin: the roles of accounts/roles.py, as elsewhere.

Changes go through the admin's real change forms (built from the page it renders), so a
refused change is refused by the admin's own permission checks, not by a broken form.
"""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from pytest_django.asserts import assertContains

from accounts.roles import Role
from apis.models import Api
from applications.models import Application
from authservers.models import SigningKey
from core.models import AuditEvent
from tests.personas import staff_member
from tests.world import World, build_world

VIEWER, OPERATOR, ADMINISTRATOR = Role.VIEWER, Role.OPERATOR, Role.ADMINISTRATOR


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db) -> World:
    return build_world()


def admin_as(role: Role | None) -> Client:
    client = Client()
    client.force_login(staff_member(f"staff-{role or 'none'}", role))
    return client


def form_data(page) -> dict:
    """The POST an unchanged submit of this admin change page would send."""
    data = {}
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        forms += formset.initial_forms  # the blank extra rows stay unsent, as if untouched
        management = dict(formset.management_form.initial, TOTAL_FORMS=len(formset.initial_forms))
        data.update(
            {formset.management_form[name].html_name: value for name, value in management.items()}
        )
    for form in forms:
        for bound in form:
            value = bound.value()
            if value is None or value is False:
                continue
            data[bound.html_name] = "on" if value is True else value
    return data


def _change(client: Client, url: str, **changes):
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    data = form_data(page) if page.context.get("adminform") else {}
    return client.post(url, {**data, **changes})


@pytest.mark.parametrize(
    ("role", "allowed"), [(VIEWER, False), (OPERATOR, False), (ADMINISTRATOR, True)]
)
def test_changing_an_apis_upstream_needs_the_administrator_role(world, role, allowed):
    client = admin_as(role)
    url = f"/admin/apis/api/{world.api.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200  # every role may look
    assert (b'name="_save"' in page.content) is allowed
    if allowed:
        response = _change(client, url, upstream_url="http://127.0.0.1:8")
        assert response.status_code == 302, response.content[:3000]
    else:
        data = {
            "name": "Petstore",
            "base_path": "/petstore/v1",
            "upstream_url": "http://127.0.0.1:8",
        }
        response = client.post(url, data)
        assert response.status_code == 403
    assert (Api.objects.get(pk=world.api.pk).upstream_url == "http://127.0.0.1:8") is allowed


@pytest.mark.parametrize(
    ("role", "allowed"), [(VIEWER, False), (OPERATOR, True), (ADMINISTRATOR, True)]
)
def test_changing_an_application_needs_the_operator_role(world, role, allowed):
    client = admin_as(role)
    url = f"/admin/applications/application/{world.application.pk}/change/"
    if allowed:
        response = _change(client, url, description="Changed in the admin")
        assert response.status_code == 302, response.content[:3000]
    else:
        response = client.post(url, {"name": "Petstore client", "description": "Changed"})
        assert response.status_code == 403
    changed = Application.objects.get(pk=world.application.pk).description != ""
    assert changed is allowed


def _run_action(client: Client, model_url: str, action: str, pk: int):
    return client.post(model_url, {"action": action, "_selected_action": [pk]})


@pytest.mark.parametrize(
    ("role", "allowed"), [(VIEWER, False), (OPERATOR, True), (ADMINISTRATOR, True)]
)
def test_the_activate_action_needs_the_operator_role(world, role, allowed):
    client = admin_as(role)
    listing = client.get("/admin/apis/api/")
    assert (b'value="activate"' in listing.content) is allowed
    _run_action(client, "/admin/apis/api/", "activate", world.api.pk)
    assert (Api.objects.get(pk=world.api.pk).status == "active") is allowed


@pytest.mark.parametrize(
    ("role", "allowed"), [(VIEWER, False), (OPERATOR, False), (ADMINISTRATOR, True)]
)
def test_the_rotate_action_needs_the_administrator_role(world, role, allowed):
    client = admin_as(role)
    kid = SigningKey.objects.get(server=world.server, state="active").kid
    url = "/admin/authservers/authorizationserver/"
    _run_action(client, url, "rotate_signing_keys", world.server.pk)
    rotated = SigningKey.objects.get(kid=kid).state == "retired"
    assert rotated is allowed


def test_staff_without_a_role_sees_nothing_in_the_admin(world):
    client = admin_as(None)
    index = client.get("/admin/")
    assertContains(index, "have permission to view or edit anything")
    assert client.get(f"/admin/apis/api/{world.api.pk}/change/").status_code == 403
    assert client.get("/admin/auth/user/").status_code == 403
    _run_action(client, "/admin/apis/api/", "activate", world.api.pk)
    assert Api.objects.get(pk=world.api.pk).status == "inactive"


def test_only_administrators_manage_users(world):
    assert admin_as(OPERATOR).get("/admin/auth/user/").status_code == 403
    assert admin_as(ADMINISTRATOR).get("/admin/auth/user/").status_code == 200


def test_nobody_edits_or_deletes_the_audit_trail(world):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(root)
    event = AuditEvent.objects.first()
    assert client.get(f"/admin/core/auditevent/{event.pk}/change/").status_code == 200
    assert client.get(f"/admin/core/auditevent/{event.pk}/delete/").status_code == 403
    client.post(f"/admin/core/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert AuditEvent.objects.filter(pk=event.pk).exists() is True
