from django.contrib import admin
from django.urls import include, path, re_path

from . import demo, health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("console/", include("gateway_admin.console.urls")),
    path("api/v1/", include("gateway_admin.api.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Internal authorization server: /oauth2/* and /.well-known/openid-configuration.
    path("", include("authservers.oauth.urls")),
    re_path(r"^demo/echo(?:/(?P<rest>.*))?$", demo.echo, name="demo-echo"),
]
