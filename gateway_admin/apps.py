from django.apps import AppConfig


class GatewayAdminConfig(AppConfig):
    name = "gateway_admin"
    verbose_name = "Gateway administration"

    def ready(self) -> None:
        from . import checks, logins, signals  # noqa: F401 - registers system checks

        signals.connect()
        logins.connect()
