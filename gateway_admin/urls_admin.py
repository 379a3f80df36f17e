"""The admin listener: console, REST admin API, Django admin, probes."""

from django.contrib import admin
from django.urls import include, path

from gateway_admin import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("console/", include("console.urls")),
    path("api/v1/", include("rest_api.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
]
