from django.apps import AppConfig


class AdminSiteConfig(AppConfig):
    """The Django admin as one more entry point: every model's ModelAdmin, writing through
    the services like the console and the REST API."""

    name = "admin_site"
    verbose_name = "Django admin"
