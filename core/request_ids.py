"""X-Request-Id: echo a client's safe id, or make one; shared by both planes."""

import itertools
import os
import re
import uuid

from django.http import HttpRequest

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # fullmatch: "$" allows a final "\n"


def safe_request_id(value: str | None) -> str | None:
    return value if value and _REQUEST_ID.fullmatch(value) else None


# A random prefix per process and a counter: unique across processes and nodes, and a
# fraction of uuid4's cost on the hot path (it reads the OS random source per call).
_ID_PREFIX = os.urandom(10).hex()
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):012x}"


def request_id_for(client_value: str | None) -> str:
    """The client's X-Request-Id when it is safe to echo, else a new one."""
    return safe_request_id(client_value) or new_request_id()


# The admin plane's answer while the database is unreachable (gateway_admin/middleware.py).
RETRY_AFTER_SECONDS = 30
DATABASE_UNAVAILABLE_DETAIL = "The gateway's database cannot be reached; try again shortly."


def request_id_of(request: HttpRequest) -> str:
    """The request's id: the client's X-Request-Id when it is safe to echo, else a new one.

    Set once per request (by RequestIdMiddleware, or here on first use), so an error
    body and the X-Request-Id header always carry the same value.
    """
    request_id = getattr(request, "request_id", None)
    if request_id is None:
        request_id = safe_request_id(request.META.get("HTTP_X_REQUEST_ID")) or uuid.uuid4().hex
        request.request_id = request_id
    return request_id
