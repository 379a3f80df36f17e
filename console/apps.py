from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The web console under /console/: server-rendered pages over the services."""

    name = "console"
