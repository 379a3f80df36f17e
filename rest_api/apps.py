from django.apps import AppConfig


class RestApiConfig(AppConfig):
    """The REST admin API under /api/v1/: thin DRF views over the services."""

    name = "rest_api"
    verbose_name = "REST admin API"
