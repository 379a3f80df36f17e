"""Registers every ModelAdmin (Django's admin autodiscovery imports this module)."""

from admin_site import apis, applications, audit, authservers, traffic  # noqa: F401
