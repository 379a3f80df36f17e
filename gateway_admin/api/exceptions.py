"""The one place the admin API turns exceptions into responses (STYLE.md §2.8)."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, serializers, status
from rest_framework.views import exception_handler as drf_exception_handler

from .serializers import field_errors


class Refused(exceptions.APIException):
    """A domain operation that cannot be done to this object; the detail says why."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "This operation is not possible for this object."
    default_code = "refused"


class RoleRequired(exceptions.PermissionDenied):
    """Staff, but the user's role does not allow this action; the detail names the role."""

    default_code = "role_required"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The change conflicts with another one made at the same time; retry it."
    default_code = "conflict"


def exception_handler(exc, context):
    """DRF's handler, plus domain ValidationErrors as 400, oversized bodies as 413
    and lost races as 409."""
    if isinstance(exc, DjangoValidationError):
        # Services validate with full_clean(); their errors are field errors like any other.
        exc = serializers.ValidationError(field_errors(exc))
    elif isinstance(exc, RequestDataTooBig):
        # Django would answer with an HTML page; clients of this API expect JSON.
        exc = PayloadTooLarge(
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    elif isinstance(exc, IntegrityError):
        # The serializer checked uniqueness; a violation now means a concurrent write won.
        exc = Conflict()
    return drf_exception_handler(exc, context)
