from django.apps import AppConfig


class AuthserversConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "authservers"

    def ready(self) -> None:
        from . import signals

        signals.connect()
