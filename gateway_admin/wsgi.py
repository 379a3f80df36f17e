"""WSGI entry point: gateway traffic to the proxy app, everything else to Django."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402 - needs the settings configured above

from proxy.app import GatewayApp  # noqa: E402


class PrefixDispatcher:
    """Sends PATH_INFO under `prefix` to `gateway`, the rest to `default`."""

    def __init__(self, prefix: str, gateway, default):
        self.prefix = prefix.rstrip("/")
        self.gateway = gateway
        self.default = default

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == self.prefix or path.startswith(self.prefix + "/"):
            return self.gateway(environ, start_response)
        return self.default(environ, start_response)


application = PrefixDispatcher(settings.GATEWAY_PREFIX, GatewayApp(), django_application)
