"""The one place the admin API turns exceptions into responses (docs/architecture.md, Errors).

Every error under /api/v1/ is problem details (RFC 9457, `application/problem+json`):
`type`, `title`, `status`, a `detail` that says what to do, a stable `code` and the
`request_id` (also sent as X-Request-Id). Validation errors add `errors`
({field: [messages]}) and `error_codes` ({field: [codes]}); domain refusals may add
their own members (`problems`, `last_error`, …).
"""

import json
import logging
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from apis.openapi_import import DocumentTooLarge
from core.db import is_write_conflict
from core.request_ids import (
    DATABASE_UNAVAILABLE_DETAIL,
    RETRY_AFTER_SECONDS,
    request_id_of,
)
from rest_api.authentication import KEY_HINT
from rest_api.serializers import field_errors

logger = logging.getLogger(__name__)
PROBLEM_CONTENT_TYPE = "application/problem+json"


class Problem(exceptions.APIException):
    """An APIException that may carry extra problem members (RFC 9457 §3.2)."""

    def __init__(self, detail=None, code=None, **members):
        super().__init__(detail, code)
        self.members = members


class Refused(Problem):
    """A domain operation that cannot be done to this object; the detail says why."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "This operation is not possible for this object."
    default_code = "refused"


class RoleRequired(exceptions.PermissionDenied):
    """Staff, but the user's role does not allow this action; the detail names the role."""

    default_code = "role_required"


class PayloadTooLarge(Problem):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class Conflict(Problem):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The change conflicts with another one made at the same time; retry it."
    default_code = "conflict"


class DatabaseUnavailable(Problem):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = DATABASE_UNAVAILABLE_DETAIL
    default_code = "database_unavailable"


# What a caller can do about each of DRF's own errors, appended to DRF's message.
GUIDANCE = {
    "not_authenticated": "Send `Authorization: Token <key>` with a staff user's API key "
    "(`Bearer <key>` works too), or sign in to the console for a session.",
    "permission_denied": "The admin API is for staff users; ask an administrator to give "
    "your account staff status.",
    "csrf_failed": "With a console session, send the csrftoken cookie's value in the "
    "X-CSRFToken header; scripts should use `Authorization: Token <key>` instead.",
    "not_found": "Check the id in the URL (list the collection to find it) or the page number.",
    "method_not_allowed": "Use one of the methods listed in the Allow header.",
    "unsupported_media_type": "Send the body as JSON with `Content-Type: application/json`.",
    "not_acceptable": "Accept application/json.",
    "parse_error": "Send a well-formed JSON document.",
    "throttled": "Wait the number of seconds in the Retry-After header, then retry.",
}


def problem_response(
    request, status_code: int, code: str, detail: str, headers: dict | None = None, **members
) -> HttpResponse:
    """A problem+json response; `request` is a Django or DRF request (for the request id)."""
    request_id = request_id_of(getattr(request, "_request", request))
    body = {
        "type": "about:blank",  # the code, not the type, names the problem
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "code": code,
        "request_id": request_id,
        **members,
    }
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status_code, content_type=PROBLEM_CONTENT_TYPE
    )
    response["X-Request-Id"] = request_id
    response["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def exception_handler(exc, context):
    """Every exception of an admin-API view as a problem+json response; never a 500 page."""
    request = context.get("request")
    api_exc = _as_api_exception(exc)
    if api_exc is None:
        logger.error(
            "Unexpected error on %s (request id %s)",
            getattr(request, "path", "?"),
            request_id_of(getattr(request, "_request", request)),
            exc_info=exc,
        )
        set_rollback()
        return problem_response(
            request,
            500,
            "internal_error",
            "The gateway failed to handle this request; the error is logged under this "
            "request id. Retry later, and quote the request id if it persists.",
        )
    set_rollback()
    return _render(request, api_exc)


def _as_api_exception(exc) -> exceptions.APIException | None:
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, DocumentTooLarge):
        return PayloadTooLarge(exc.messages[0], code="document_too_large")
    if isinstance(exc, DjangoValidationError):
        # Services validate with full_clean(); their errors are field errors like any other.
        return exceptions.ValidationError(field_errors(exc))
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
            "send a smaller one."
        )
    if isinstance(exc, IntegrityError):
        # The serializer checked uniqueness; a violation now means a concurrent write won.
        return Conflict()
    if isinstance(exc, OperationalError) and is_write_conflict(exc):
        # A deadlock or serialization failure with a concurrent write (a config apply):
        # rolled back whole, so the client may simply retry.
        return Conflict()
    if isinstance(exc, OperationalError | InterfaceError):
        logger.error("Database unavailable: %s", exc)
        return DatabaseUnavailable()
    if isinstance(exc, Http404):
        return exceptions.NotFound(*exc.args)
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    return None


def _render(request, exc: exceptions.APIException) -> HttpResponse:
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, DatabaseUnavailable):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if isinstance(exc, exceptions.ValidationError):
        return _render_validation(request, exc, headers)
    code = exc.get_codes() if isinstance(exc.detail, str) else exc.default_code
    detail = str(exc.detail)
    if code == "permission_denied" and detail.startswith("CSRF Failed"):
        code = "csrf_failed"
    if code == "not_authenticated" and exc.status_code == 401:
        detail = _not_authenticated_detail(request, detail)
    elif code in GUIDANCE:
        detail = f"{detail} {GUIDANCE[code]}"
    members = getattr(exc, "members", {})
    return problem_response(request, exc.status_code, code, detail, headers, **members)


def _not_authenticated_detail(request, detail: str) -> str:
    """Name the scheme a caller used when it is not one the admin API accepts."""
    header = request.META.get("HTTP_AUTHORIZATION", "") if request is not None else ""
    scheme = header.split(" ", 1)[0].strip()
    if scheme:
        return (
            f"The Authorization scheme {scheme[:20]!r} is not accepted here. " + KEY_HINT + " "
            "`Bearer <key>` works too."
        )
    return f"{detail} {GUIDANCE['not_authenticated']}"


def _render_validation(request, exc: exceptions.ValidationError, headers: dict) -> HttpResponse:
    errors, codes = exc.detail, exc.get_codes()
    if not isinstance(errors, dict):  # ValidationError("message") or a list of them
        key = api_settings.NON_FIELD_ERRORS_KEY
        errors, codes = {key: errors}, {key: codes}
    fields = list(errors)
    first_field = fields[0]
    detail = (
        f"{len(fields)} invalid field{'s' if len(fields) != 1 else ''} "
        f"({', '.join(fields)}): {first_field}: {_first_message(errors[first_field])} "
        "Every message is in `errors`; fix them and retry."
    )
    return problem_response(
        request,
        400,
        "validation_failed",
        detail,
        headers,
        errors=_plain(errors),
        error_codes=_plain(codes),
    )


def _first_message(messages) -> str:
    """The first message of a field, however deep (list and object fields nest them)."""
    while isinstance(messages, list | dict) and messages:
        messages = messages[0] if isinstance(messages, list) else next(iter(messages.values()))
    return str(messages)


def _plain(value):
    """ErrorDetail trees as plain JSON: str messages, str keys (list indexes too)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return str(value)
