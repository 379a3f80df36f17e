"""The three role groups (viewer, operator, administrator) with their permissions.

Idempotent: it creates what is missing and sets each group's permissions to the
list below. The lists are frozen here as migrations should be; after every
`migrate`, gateway_admin.apps re-syncs the groups from gateway_admin/roles.py,
which is where roles are defined from now on.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.models import Q

READING = [
    "apis.view_api",
    "apis.view_route",
    "apis.view_identifyandauthorizepolicy",
    "apis.inspect_token",
    "applications.view_application",
    "authservers.view_authorizationserver",
    "authservers.view_jwkssnapshot",
    "authservers.view_signingkey",
    "gateway_admin.view_auditevent",
]
OPERATING = [
    "apis.activate_api",
    "applications.add_application",
    "applications.change_application",
    "applications.delete_application",
    "applications.rotate_secret_application",
    "applications.issue_test_token_application",
    "authservers.refresh_jwks",
]
ADMINISTRATOR_APPS = [
    "apis",
    "applications",
    "authservers",
    "gateway_admin",
    "auth",
    "authtoken",
    "oauth2_provider",
]
NEVER_GRANTED = [
    "gateway_admin.add_auditevent",
    "gateway_admin.change_auditevent",
    "gateway_admin.delete_auditevent",
]


def _by_name(Permission, names):
    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.filter(query)


def create_role_groups(apps, schema_editor):
    # Permissions are normally created after all migrations ran (post_migrate);
    # the groups need them now, including the custom ones added just before.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    excluded = _by_name(Permission, NEVER_GRANTED)
    roles = {
        "Gatekeep viewer": _by_name(Permission, READING),
        "Gatekeep operator": _by_name(Permission, READING + OPERATING),
        "Gatekeep administrator": Permission.objects.filter(
            content_type__app_label__in=ADMINISTRATOR_APPS
        ).exclude(pk__in=excluded),
    }
    for name, permissions in roles.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("gateway_admin", "0002_config_revision"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("apis", "0002_api_permissions"),
        ("applications", "0003_application_permissions"),
        ("authservers", "0003_signing_key_revocation"),
    ]

    operations = [migrations.RunPython(create_role_groups, migrations.RunPython.noop)]
