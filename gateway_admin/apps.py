from django.apps import AppConfig


class GatewayAdminConfig(AppConfig):
    """The project package: settings, URLs, the two planes' entry points, checks, health."""

    name = "gateway_admin"
    verbose_name = "Gatekeep"

    def ready(self) -> None:
        from gateway_admin import checks  # noqa: F401 - registers the system checks
