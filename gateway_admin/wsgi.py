"""WSGI entry point of the control plane: Django, marked with the listener it serves.

The control-plane server listens twice (conf/admin.py): on the admin address
(console, REST admin API, Django admin) and on an internal address that only the
data plane reaches, for the public OAuth2 endpoints it relays. Each request is
marked with its plane from the listening socket (never from a header), and
gateway_admin.planes serves only that plane's URLs. Proxied traffic never comes
here: it is the data plane's (proxy/asgi.py).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402 - needs the settings configured above

from gateway_admin.planes import ADMIN, ENVIRON_KEY, PUBLIC  # noqa: E402


def for_plane(plane: str, app=django_application):
    def plane_app(environ, start_response):
        environ[ENVIRON_KEY] = plane
        return app(environ, start_response)

    return plane_app


admin_application = for_plane(ADMIN)
public_application = for_plane(PUBLIC)
_internal_port = settings.GATEWAY_INTERNAL_BIND.rsplit(":", 1)[-1]


def application(environ, start_response):
    """gunicorn sets SERVER_PORT from the listening socket of a TCP listener."""
    if environ.get("SERVER_PORT") == _internal_port:
        return public_application(environ, start_response)
    return admin_application(environ, start_response)
