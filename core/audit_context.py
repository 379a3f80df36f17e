"""Where a change comes from: the surface (console, REST, Django admin, config apply, shell)
and the client address, remembered for the duration of one request or command.

The audit trail (core/audit.py) reads it when it writes an AuditEvent, so no service
or view has to pass it along. A request sets it in AuditContextMiddleware; code
outside a request (a management command, `manage.py shell`, a Celery task) gets a
source from the running process, and can name its own with `audit_source("config-apply")`.
"""

import contextvars
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

from django.http import HttpRequest

from core.client_address import client_address


class Source:
    CONSOLE = "console"
    REST = "rest"
    ADMIN = "admin"
    OAUTH = "oauth"
    CONFIG_APPLY = "config-apply"
    SHELL = "shell"
    COMMAND = "command"
    SYSTEM = "system"


# The admin plane's surfaces, by path prefix.
PATH_SOURCES = (
    ("/console/", Source.CONSOLE),
    ("/api/", Source.REST),
    ("/admin/", Source.ADMIN),
    ("/oauth2/", Source.OAUTH),
)


@dataclass(frozen=True)
class AuditContext:
    source: str
    client_address: str | None = None


_current: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar(
    "gatekeep_audit_context", default=None
)


def process_source(argv: list[str] | None = None) -> str:
    """The source of changes made outside any request, from the command line of the process."""
    argv = sys.argv if argv is None else argv
    if len(argv) > 1 and os.path.basename(argv[0]) in ("manage.py", "django-admin"):
        command = argv[1]
        if command in ("shell", "shell_plus", "dbshell"):
            return Source.SHELL
        if command in ("gatekeep_config", "apply_config", "config_apply"):
            return Source.CONFIG_APPLY
        return Source.COMMAND
    return Source.SYSTEM


def current() -> AuditContext:
    return _current.get() or AuditContext(source=process_source())


@contextmanager
def audit_source(source: str, address: str | None = None):
    """Changes made inside the block are recorded as coming from `source` (and `address`)."""
    token = _current.set(AuditContext(source=source, client_address=address))
    try:
        yield
    finally:
        _current.reset(token)


def request_source(request: HttpRequest) -> str:
    path = request.path or ""
    return next((source for prefix, source in PATH_SOURCES if path.startswith(prefix)), "web")


class AuditContextMiddleware:
    """Every change made while answering a request is attributed to its surface and client."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        with audit_source(request_source(request), client_address(request)):
            return self.get_response(request)
