"""Roles: who may do what, in the REST API, the console and the Django admin alike.

An `Action` is something a person does on any of the three surfaces ("activate
or deactivate APIs"); it needs Django permissions. A `Role` is a Django group
holding the permissions of its actions:

- viewer: reads everything (configuration, keys' public halves, the audit log)
  and uses the token inspector; changes nothing.
- operator: viewer + activates/deactivates APIs, manages applications (create,
  change, associate with APIs, suspend, rotate secrets, test tokens, delete) and
  refreshes an issuer's keys.
- administrator: everything, including APIs, routes, policies, authorization
  servers, signing keys and users.

Every entry point names its action and asks `can()`; the Django admin asks the
same permissions through its has_*_permission hooks. Superusers hold every
permission (Django's rule), so they are administrators. Staff status is still
required: a non-staff user in a role group can do nothing.

The groups are created and re-synced from this module after every
`migrate`, so they always hold exactly what is written here; give people extra
rights with groups of your own, not by editing these.
"""

import enum
import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

from core import changes

logger = logging.getLogger(__name__)


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMINISTRATOR = "administrator"

    @property
    def group_name(self) -> str:
        # Prefixed, so a deployment's own "Administrators" group is never overwritten.
        return f"Gatekeep {self.value}"


class Action(enum.Enum):
    """(what the person does, in words; the Django permissions it needs)."""

    # Reading: every role.
    VIEW_APIS = ("see APIs", "apis.view_api")
    VIEW_ROUTES = ("see routes", "apis.view_route")
    VIEW_POLICIES = ("see access policies", "apis.view_identifyandauthorizepolicy")
    VIEW_APPLICATIONS = ("see applications", "applications.view_application")
    VIEW_SERVERS = (
        "see authorization servers and their public keys",
        "authservers.view_authorizationserver",
        "authservers.view_jwkssnapshot",
        "authservers.view_signingkey",
    )
    VIEW_AUDIT = ("read the audit log", "core.view_auditevent")
    INSPECT_TOKENS = ("use the token inspector", "apis.inspect_token")
    # Operating: operators and administrators.
    ACTIVATE_APIS = ("activate or deactivate APIs", "apis.activate_api")
    CREATE_APPLICATIONS = ("register applications", "applications.add_application")
    CHANGE_APPLICATIONS = (
        "change applications (their APIs, claims, suspension)",
        "applications.change_application",
    )
    DELETE_APPLICATIONS = ("delete applications", "applications.delete_application")
    ROTATE_APPLICATION_SECRETS = (
        "rotate applications' client secrets",
        "applications.rotate_secret_application",
    )
    ISSUE_TEST_TOKENS = (
        "issue test tokens for applications",
        "applications.issue_test_token_application",
    )
    REFRESH_KEYS = ("refresh an authorization server's keys", "authservers.refresh_jwks")
    # Administering: administrators only.
    CREATE_APIS = ("create APIs", "apis.add_api")
    CHANGE_APIS = ("change APIs (upstream, base path, timeouts)", "apis.change_api")
    DELETE_APIS = ("delete APIs", "apis.delete_api")
    IMPORT_OPENAPI = ("import OpenAPI documents", "apis.add_api", "apis.add_route")
    CREATE_ROUTES = ("add routes", "apis.add_route")
    CHANGE_ROUTES = ("change routes", "apis.change_route")
    DELETE_ROUTES = ("delete routes", "apis.delete_route")
    # One PUT creates or replaces a policy, so it needs both.
    SAVE_POLICIES = (
        "change access policies",
        "apis.add_identifyandauthorizepolicy",
        "apis.change_identifyandauthorizepolicy",
    )
    CREATE_SERVERS = ("add authorization servers", "authservers.add_authorizationserver")
    CHANGE_SERVERS = ("change authorization servers", "authservers.change_authorizationserver")
    DELETE_SERVERS = ("delete authorization servers", "authservers.delete_authorizationserver")
    ROTATE_SIGNING_KEYS = ("rotate signing keys", "authservers.rotate_signingkey")
    REVOKE_SIGNING_KEYS = ("revoke signing keys", "authservers.revoke_signingkey")
    # Configuration files (configfile/): an apply creates, changes and deletes anything.
    MANAGE_CONFIG_FILES = (
        "export, compare and apply configuration files",
        "apis.add_api",
        "apis.change_api",
        "apis.delete_api",
        "apis.activate_api",
        "apis.add_route",
        "apis.change_route",
        "apis.delete_route",
        "apis.add_identifyandauthorizepolicy",
        "apis.change_identifyandauthorizepolicy",
        "apis.delete_identifyandauthorizepolicy",
        "applications.add_application",
        "applications.change_application",
        "applications.delete_application",
        "applications.rotate_secret_application",
        "authservers.add_authorizationserver",
        "authservers.change_authorizationserver",
        "authservers.delete_authorizationserver",
    )
    MANAGE_USERS = (
        "manage users and their roles",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.delete_user",
    )

    def __init__(self, label: str, *permissions: str) -> None:
        self.label = label
        self.permissions = permissions


_READING = frozenset(
    {
        Action.VIEW_APIS,
        Action.VIEW_ROUTES,
        Action.VIEW_POLICIES,
        Action.VIEW_APPLICATIONS,
        Action.VIEW_SERVERS,
        Action.VIEW_AUDIT,
        Action.INSPECT_TOKENS,
    }
)
_OPERATING = frozenset(
    {
        Action.ACTIVATE_APIS,
        Action.CREATE_APPLICATIONS,
        Action.CHANGE_APPLICATIONS,
        Action.DELETE_APPLICATIONS,
        Action.ROTATE_APPLICATION_SECRETS,
        Action.ISSUE_TEST_TOKENS,
        Action.REFRESH_KEYS,
    }
)
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.VIEWER: _READING,
    Role.OPERATOR: _READING | _OPERATING,
    Role.ADMINISTRATOR: frozenset(Action),
}
# Administrators also get every permission of these apps, so the Django admin shows
# them the models no action names (API tokens, OAuth2 clients and grants, groups).
ADMINISTRATOR_APPS = (
    "apis",
    "applications",
    "authservers",
    "core",
    "auth",
    "authtoken",
    "oauth2_provider",
)
# Nobody edits the audit trail, administrators included.
NEVER_GRANTED = frozenset(
    {
        "core.add_auditevent",
        "core.change_auditevent",
        "core.delete_auditevent",
    }
)


def can(user, action: Action) -> bool:
    """Whether this user may do this, on any surface."""
    return bool(
        user is not None and user.is_active and user.is_staff and user.has_perms(action.permissions)
    )


def minimum_role(action: Action) -> Role:
    return next(role for role in Role if action in ROLE_ACTIONS[role])


def role_of(user) -> Role | None:
    """The highest Gatekeep role the user holds; superusers are administrators."""
    if not (user.is_active and user.is_staff):
        return None
    if user.is_superuser:
        return Role.ADMINISTRATOR
    names = set(user.groups.values_list("name", flat=True))
    held = [role for role in Role if role.group_name in names]
    return held[-1] if held else None


def refusal(user, action: Action) -> str:
    """Why `user` may not do `action`, and who can: for a 403 page or body."""
    needed = minimum_role(action)
    role = role_of(user)
    if role is None:
        return (
            f"Your account has no Gatekeep role, so it cannot {action.label}. Ask an "
            f"administrator for the {needed} role (manage.py set_role "
            f"{user.get_username()} {needed})."
        )
    return (
        f"Your role ({role}) does not allow you to {action.label}; "
        f"that needs the {needed} role or higher."
    )


# --- the groups ----------------------------------------------------------------------


def role_permissions(role: Role) -> set[str]:
    """The permissions ("app_label.codename") the role's group holds."""
    names = {name for action in ROLE_ACTIONS[role] for name in action.permissions}
    if role == Role.ADMINISTRATOR:
        names |= {
            f"{app_label}.{codename}"
            for app_label, codename in Permission.objects.filter(
                content_type__app_label__in=ADMINISTRATOR_APPS
            ).values_list("content_type__app_label", "codename")
        }
    return names - NEVER_GRANTED


def _permission_objects(names: set[str]) -> list[Permission]:
    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(query).select_related("content_type"))
    missing = names - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    if missing:
        logger.warning("Permissions missing for the roles: %s", ", ".join(sorted(missing)))
    return found


def sync_role_groups() -> None:
    """Create the role groups, each holding exactly its permissions (idempotent)."""
    with transaction.atomic():
        for role in Role:
            group, _ = Group.objects.get_or_create(name=role.group_name)
            group.permissions.set(_permission_objects(role_permissions(role)))


def set_role(user, role: Role | None, actor=None) -> Role | None:
    """Give `user` exactly this role (None: no role), making them staff; audited.

    Returns the role they had before. Superusers stay administrators whatever
    their groups say.
    """
    with transaction.atomic():
        user = get_user_model().objects.select_for_update().get(pk=user.pk)
        before = role_of(user)
        before_staff = user.is_staff
        groups = Group.objects.filter(name__in=[r.group_name for r in Role])
        user.groups.remove(*groups)
        if role is not None:
            if not Group.objects.filter(name=role.group_name).exists():
                sync_role_groups()  # e.g. deleted by hand: never hand out an empty group
            user.groups.add(Group.objects.get(name=role.group_name))
            if not user.is_staff:
                user.is_staff = True  # the console and the REST API are staff-only
                user.save(update_fields=["is_staff"])
        changes.record(
            actor,
            "set-role",
            user,
            {"role": str(before) if before else None, "is_staff": before_staff},
            {"role": str(role) if role else None, "is_staff": user.is_staff},
        )
    return before
