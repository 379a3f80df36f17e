from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "applications"

    def ready(self) -> None:
        from applications import config_reads
        from applications.models import Application
        from core.config_signals import track_config_changes

        track_config_changes(Application, through=[Application.apis.through])
        config_reads.register()
