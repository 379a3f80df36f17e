from django.apps import AppConfig


class TrafficConfig(AppConfig):
    name = "traffic"
    verbose_name = "Traffic control"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.config_signals import track_config_changes
        from traffic.models import ApplicationLimit, LimitPolicy

        # A raw ORM write (shell, data migration) still moves the config version.
        track_config_changes(LimitPolicy, ApplicationLimit)
