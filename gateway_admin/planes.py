"""Which plane a Django request arrived on, and what that plane may see.

The control-plane server has two listeners: the admin listener (console, REST
admin API, Django admin) and an internal one that only the data plane talks to,
relaying the public OAuth2/OpenID endpoints (proxy/relay.py). gateway_admin.wsgi
marks each request with its plane; this middleware gives each plane its own
URLconf, so an admin path on the public side is a 404 and the other way round.

The two planes share a host name in simple deployments, and browsers scope
cookies by host, not port. So the public plane's session and CSRF cookies get
names of their own: the console's session is never sent to, or set by, the
public side.
"""

from http.cookies import Morsel

from django.conf import settings
from django.http import HttpResponseNotFound

from core.hosts import host_listed

ENVIRON_KEY = "gatekeep.plane"
ADMIN, PUBLIC = "admin", "public"
URLCONFS = {ADMIN: "gateway_admin.urls_admin", PUBLIC: "gateway_admin.urls_public"}
# The public plane's cookie names; the admin plane uses SESSION_COOKIE_NAME/CSRF_COOKIE_NAME.
PUBLIC_SESSION_COOKIE = "gatekeep_session"
PUBLIC_CSRF_COOKIE = "gatekeep_csrftoken"


def _public_names() -> dict[str, str]:
    return {
        settings.SESSION_COOKIE_NAME: PUBLIC_SESSION_COOKIE,
        settings.CSRF_COOKIE_NAME: PUBLIC_CSRF_COOKIE,
    }


class PlaneMiddleware:
    """Routes by plane; renames the public plane's cookies; takes its client address."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        plane = request.META.get(ENVIRON_KEY)
        if plane is None:
            return self.get_response(request)  # the test client and management commands
        if plane == ADMIN and not _host_allowed(request, settings.GATEWAY_ADMIN_HOSTS):
            return HttpResponseNotFound(b"Not found", content_type="text/plain")
        request.urlconf = URLCONFS[plane]
        if plane != PUBLIC:
            return self.get_response(request)
        # Only the data plane reaches this listener: it states the client's address.
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            request.META["REMOTE_ADDR"] = forwarded
        names = _public_names()
        cookies = request.COOKIES
        for admin_name, public_name in names.items():
            cookies.pop(admin_name, None)  # the console's cookies never reach the public side
            if public_name in cookies:
                cookies[admin_name] = cookies.pop(public_name)
        response = self.get_response(request)
        for admin_name, public_name in names.items():
            morsel = response.cookies.pop(admin_name, None)
            if morsel is not None:
                renamed = Morsel()
                renamed.set(public_name, morsel.value, morsel.coded_value)
                renamed.update(morsel)
                response.cookies[public_name] = renamed
        return response


def _host_allowed(request, hosts: list[str]) -> bool:
    return host_listed(request.META.get("HTTP_HOST", ""), hosts)
