from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The ground floor: audit trail, config version, outbound HTTP and shared helpers."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = "Gateway core"
