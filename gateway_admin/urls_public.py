"""The control plane's internal listener: what the data plane relays from the public side.

The internal authorization server (/oauth2/*, /.well-known/openid-configuration),
and the demo upstream when GATEWAY_DEMO is on (./scripts/run).
"""

from django.urls import include, path, re_path

from demo import seed as demo
from gateway_admin import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", include("issuer.urls")),
]
# The demo upstream answers only when GATEWAY_DEMO is on (./scripts/run); 404 otherwise.
urlpatterns.append(re_path(r"^demo/echo(?:/(?P<rest>.*))?$", demo.echo, name="demo-echo"))
