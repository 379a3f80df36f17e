"""Every Django URL, for the test client and `reverse()`; servers use one plane's URLconf.

gateway_admin.wsgi marks each request with the listener it came in on and
gateway_admin.planes switches to urls_admin or urls_public: no listener serves both.
"""

from django.urls import include, path, re_path

from demo import seed as demo
from gateway_admin.urls_admin import urlpatterns as admin_patterns

urlpatterns = [*admin_patterns, path("", include("issuer.urls"))]
# The demo upstream answers only when GATEWAY_DEMO is on (./scripts/run); 404 otherwise.
urlpatterns.append(re_path(r"^demo/echo(?:/(?P<rest>.*))?$", demo.echo, name="demo-echo"))
