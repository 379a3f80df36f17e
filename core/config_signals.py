"""A write that bypasses the services (shell, data migration) still moves the config version.

The services bump the version themselves (core/changes.py); each domain app lists its
config models here too, so a raw ORM write cannot leave workers on stale config.
bump_config_version() publishes once per transaction, so the two never double up.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save

from core.config_version import bump_config_version


def _config_changed(sender, **kwargs) -> None:
    bump_config_version()


def track_config_changes(*models, through=()) -> None:
    """Bump the config version on every save or delete of `models` and M2M change of `through`."""
    for model in models:
        uid = f"{model._meta.label}"
        post_save.connect(_config_changed, sender=model, dispatch_uid=f"cfg-save-{uid}")
        post_delete.connect(_config_changed, sender=model, dispatch_uid=f"cfg-del-{uid}")
    for table in through:
        uid = f"{table._meta.label}"
        m2m_changed.connect(_config_changed, sender=table, dispatch_uid=f"cfg-m2m-{uid}")
