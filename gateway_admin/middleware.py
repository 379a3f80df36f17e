"""Control-plane middleware: a clear answer when the database is down; the console's CSP.

Proxied traffic never gets here (proxy.app serves it from memory). The admin,
console and REST API need the database; while it is unreachable they answer
503 with Retry-After: an HTML page for people, problem+json for /api/.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 30


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("Database unavailable while serving %s: %s", request.path, exception)
        if request.path.startswith("/api/"):
            response = JsonResponse(
                {
                    "type": "about:blank",
                    "title": "Database unavailable",
                    "status": 503,
                    "detail": "The gateway's database cannot be reached; try again shortly.",
                    "code": "database_unavailable",
                },
                status=503,
                content_type="application/problem+json",
            )
        else:
            # Rendered without the request: no context processor may touch the database.
            page = loader.render_to_string("500.html", {"database_unavailable": True})
            response = HttpResponse(page, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response


# The console ships its own scripts (htmx, console.js) and no inline script; inline
# style attributes remain, so styles may be inline. Nothing may frame the console.
CONSOLE_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """A Content-Security-Policy on every console page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/console/"):
            response.setdefault("Content-Security-Policy", CONSOLE_CSP)
        return response
