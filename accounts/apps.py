from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    """Who may do what: roles, sign-in protection and the audit of sign-ins."""

    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from accounts import logins

        logins.connect()
        post_migrate.connect(sync_roles, sender=self, dispatch_uid="gatekeep-sync-roles")


def sync_roles(app_config, using=DEFAULT_DB_ALIAS, apps=None, **kwargs) -> None:
    """After every migrate (and test-database flush): the role groups as roles.py defines them."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    from accounts.roles import sync_role_groups

    if using != DEFAULT_DB_ALIAS:
        return
    # This app's post_migrate runs before later apps' own permission creation.
    for config in global_apps.get_app_configs():
        create_permissions(config, verbosity=0, using=using, apps=apps or global_apps)
    sync_role_groups()
