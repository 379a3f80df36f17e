"""Admin-plane middleware: a request id on every response, a clear answer instead of a
stack trace when the database is down, and the console's Content-Security-Policy.

Proxied traffic never gets here (proxy.app serves it from memory). The admin,
console and REST API need the database; while it is unreachable they answer
503 with Retry-After: an HTML page for people, problem+json for /api/.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template import loader

from core.request_ids import DATABASE_UNAVAILABLE_DETAIL, RETRY_AFTER_SECONDS, request_id_of
from rest_api.exceptions import problem_response

logger = logging.getLogger(__name__)


class RequestIdMiddleware:
    """Echo the request id as X-Request-Id, so a client can quote it to an operator."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_of(request)
        response = self.get_response(request)
        response.setdefault("X-Request-Id", request_id)
        return response


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
            response = problem_response(
                request, 503, "database_unavailable", DATABASE_UNAVAILABLE_DETAIL
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
