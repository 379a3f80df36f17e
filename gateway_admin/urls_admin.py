"""The admin listener: console, REST admin API, Django admin, probes."""

from django.contrib import admin
from django.urls import include, path

from . import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("console/", include("gateway_admin.console.urls")),
    path("api/v1/", include("gateway_admin.api.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
