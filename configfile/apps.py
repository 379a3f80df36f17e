from django.apps import AppConfig


class ConfigfileConfig(AppConfig):
    """Configuration as code: the whole gateway as one YAML file (export, diff, apply)."""

    name = "configfile"
    verbose_name = "Configuration files"
