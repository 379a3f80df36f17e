from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The web console under /console/: server-rendered pages over the services."""

    name = "console"

    def ready(self) -> None:
        # Connects the session limit to user_logged_in (console/sso.py).
        from console import sso  # noqa: F401
