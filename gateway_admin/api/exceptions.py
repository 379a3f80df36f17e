"""The one place the admin API turns exceptions into responses (STYLE.md §2.8)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from rest_framework import exceptions, serializers, status
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The change conflicts with another one made at the same time; retry it."
    default_code = "conflict"


def exception_handler(exc, context):
    """DRF's handler, plus domain ValidationErrors as 400 and lost races as 409."""
    if isinstance(exc, DjangoValidationError):
        # Services validate with full_clean(); their errors are field errors like any other.
        exc = serializers.ValidationError(serializers.as_serializer_error(exc))
    elif isinstance(exc, IntegrityError):
        # The serializer checked uniqueness; a violation now means a concurrent write won.
        exc = Conflict()
    return drf_exception_handler(exc, context)
