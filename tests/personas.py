"""Staff people with a Gatekeep role, for the admin API, console and Django admin tests."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.roles import Role


def staff_member(username: str, role: Role | None, password: str = "pw") -> object:
    """An active staff user holding `role` (None: staff with no role at all).

    The group is joined directly, not through roles.set_role(), so tests that count
    audit events see only the events they cause.
    """
    user = get_user_model().objects.create_user(
        username, f"{username}@example.com", password, is_staff=True
    )
    if role is not None:
        user.groups.add(Group.objects.get(name=role.group_name))
    return user
