from django.apps import AppConfig


class AuthserversConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "authservers"

    def ready(self) -> None:
        from authservers.models import AuthorizationServer
        from core.config_signals import track_config_changes

        track_config_changes(AuthorizationServer)
