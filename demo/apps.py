from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data (`manage.py gateway_demo`) and the demo upstream for a first run."""

    name = "demo"
