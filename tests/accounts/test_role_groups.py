"""The role groups (synced after every migrate) and `manage.py set_role`."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.roles import Action, Role, can, role_of, role_permissions, sync_role_groups
from core.models import AuditEvent
from tests.personas import staff_member


def group_permissions(role: Role) -> set[str]:
    group = Group.objects.get(name=role.group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_the_three_groups_exist_with_exactly_their_permissions(db):
    for role in Role:
        assert group_permissions(role) == role_permissions(role), role
    assert group_permissions(Role.VIEWER) < group_permissions(Role.OPERATOR)
    assert group_permissions(Role.OPERATOR) < group_permissions(Role.ADMINISTRATOR)
    assert all(
        name.split(".")[1].startswith(("view_", "inspect_"))
        for name in group_permissions(Role.VIEWER)
    )
    assert "core.delete_auditevent" not in group_permissions(Role.ADMINISTRATOR)
    assert "authtoken.add_token" in group_permissions(Role.ADMINISTRATOR)


def test_the_sync_is_idempotent_and_recreates_a_deleted_group(db):
    Group.objects.get(name=Role.OPERATOR.group_name).permissions.clear()
    Group.objects.filter(name=Role.VIEWER.group_name).delete()
    sync_role_groups()
    sync_role_groups()
    assert Group.objects.filter(name__startswith="Gatekeep ").count() == 3
    for role in Role:
        assert group_permissions(role) == role_permissions(role), role


def test_a_sync_restores_a_group_edited_by_hand(db):
    group = Group.objects.get(name=Role.VIEWER.group_name)
    group.permissions.add(*Group.objects.get(name=Role.ADMINISTRATOR.group_name).permissions.all())
    sync_role_groups()
    assert group_permissions(Role.VIEWER) == role_permissions(Role.VIEWER)


def test_every_action_belongs_to_the_administrator_and_reading_to_everyone():
    from accounts.roles import ROLE_ACTIONS

    assert ROLE_ACTIONS[Role.ADMINISTRATOR] == frozenset(Action)
    assert Action.INSPECT_TOKENS in ROLE_ACTIONS[Role.VIEWER]
    assert Action.REVOKE_SIGNING_KEYS not in ROLE_ACTIONS[Role.OPERATOR]
    assert Action.CHANGE_APIS not in ROLE_ACTIONS[Role.OPERATOR]


def test_superusers_are_administrators_and_inactive_users_nothing(db):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    assert role_of(root) == Role.ADMINISTRATOR
    assert all(can(root, action) for action in Action)
    root.is_active = False
    assert role_of(root) is None
    assert any(can(root, action) for action in Action) is False


# --- manage.py set_role -------------------------------------------------------------------


def set_role(*args) -> str:
    out = io.StringIO()
    call_command("set_role", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_set_role_gives_one_role_and_makes_the_user_staff(db):
    alice = get_user_model().objects.create_user("alice", password="pw")
    assert set_role("alice", "operator") == "alice: no role → operator."
    alice.refresh_from_db()
    assert alice.is_staff is True
    assert role_of(alice) == Role.OPERATOR
    assert can(alice, Action.ACTIVATE_APIS) is True
    assert can(alice, Action.CHANGE_APIS) is False

    assert set_role("alice", "viewer") == "alice: operator → viewer."
    alice = get_user_model().objects.get(pk=alice.pk)  # a fresh permission cache
    assert list(alice.groups.values_list("name", flat=True)) == ["Gatekeep viewer"]
    assert can(alice, Action.ACTIVATE_APIS) is False


def test_set_role_none_leaves_a_staff_user_who_can_do_nothing(db):
    staff_member("bob", Role.ADMINISTRATOR)
    assert set_role("bob", "none") == "bob: administrator → no role."
    bob = get_user_model().objects.get(username="bob")
    assert bob.is_staff is True and role_of(bob) is None
    assert any(can(bob, action) for action in Action) is False


def test_set_role_is_audited(db):
    get_user_model().objects.create_user("alice", password="pw")
    set_role("alice", "administrator")
    event = AuditEvent.objects.get(action="set-role")
    assert (event.actor_name, event.object_type, event.object_repr) == (
        "manage.py",
        "user",
        "alice",
    )
    assert event.before == {"role": None, "is_staff": False}
    assert event.after == {"role": "administrator", "is_staff": True}


def test_set_role_recreates_a_deleted_group_with_its_permissions(db):
    get_user_model().objects.create_user("alice", password="pw")
    Group.objects.filter(name=Role.OPERATOR.group_name).delete()
    set_role("alice", "operator")
    assert group_permissions(Role.OPERATOR) == role_permissions(Role.OPERATOR)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody", "viewer"], "There is no user 'nobody'."),
        (["alice", "root"], "invalid choice: 'root'"),
    ],
)
def test_set_role_refuses_unknown_users_and_roles(db, args, message):
    get_user_model().objects.create_user("alice", password="pw")
    with pytest.raises(CommandError, match=message):
        call_command("set_role", *args)
    assert role_of(get_user_model().objects.get(username="alice")) is None
