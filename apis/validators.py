"""Reusable field validators for APIs, routes and policies."""

import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from core.outbound_policy import check_url, refusal_for_gateway_listener

_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")  # RFC 6749 scope-token
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")
_CLAIM_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def validate_upstream_url(value: str) -> None:
    """An absolute http(s) URL the outbound policy allows and that is not the gateway itself."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValidationError("Enter a valid URL.") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError("The upstream must be an absolute http:// or https:// URL.")
    if parts.username or parts.password:
        raise ValidationError("Put upstream credentials in headers, not in the URL.")
    if parts.query or parts.fragment:
        raise ValidationError("The upstream URL must not have a query or fragment.")
    check_url(value, "upstream URL")
    loop = refusal_for_gateway_listener(value)
    if loop is not None:
        raise ValidationError(
            f"The upstream URL must not point at the gateway itself: {loop}; "
            "calls would loop back into the gateway.",
            code="outbound_denied",
        )


def validate_scope_list(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError("Give a list of scopes.")
    for scope in value:
        if not isinstance(scope, str) or not _SCOPE.match(scope):
            raise ValidationError(f"{scope!r} is not a valid scope.")


def validate_audience_list(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError("Give a list of audiences.")
    for audience in value:
        if not isinstance(audience, str) or not audience.strip() or audience != audience.strip():
            raise ValidationError(f"{audience!r} is not a valid audience.")


def validate_header_name(value: str) -> None:
    if not _HEADER_NAME.match(value or ""):
        raise ValidationError("Use letters, digits and '-' only.")


MAX_CLAIMS = 20


def _claim_object(value: object, not_an_object: str, too_many: str) -> dict:
    """A JSON object of at most MAX_CLAIMS entries keyed by valid claim names."""
    if not isinstance(value, dict):
        raise ValidationError(not_an_object)
    if len(value) > MAX_CLAIMS:
        raise ValidationError(too_many)
    for claim in value:
        if not _CLAIM_NAME.match(claim):
            raise ValidationError(f"{claim!r} is not a valid claim name.")
    return value


def validate_forward_claims(value: object) -> None:
    """A flat {claim: header name} object; gateway identity headers are reserved."""
    claims = _claim_object(
        value,
        "Give an object mapping claim names to header names.",
        f"Forward at most {MAX_CLAIMS} claims.",
    )
    for header in claims.values():
        if not isinstance(header, str) or not _HEADER_NAME.match(header):
            raise ValidationError(f"{header!r} is not a valid header name.")
        if not header.lower().startswith("x-"):
            raise ValidationError(f"Forward claims as X- headers, not {header!r}.")


def validate_claims_object(value: object) -> None:
    """Identifying/custom claims: a flat JSON object of string → string."""
    claims = _claim_object(
        value,
        "Give a flat JSON object of claim names to string values.",
        f"At most {MAX_CLAIMS} claims.",
    )
    for claim, claim_value in claims.items():
        if not isinstance(claim_value, str) or not claim_value or len(claim_value) > 500:
            raise ValidationError(f"The value of {claim!r} must be a non-empty string.")


# --- the token inspector's call (console form and REST serializer alike) -------------

INSPECTED_PATH_MAX_LENGTH = 2000
INSPECTED_TOKEN_MAX_LENGTH = 65536

# The path after the API's base path: no query, fragment, space or control character.
validate_inspected_path = RegexValidator(
    r"^/[^\x00-\x20\x7f?#]*$", "Give a path starting with '/', without query or spaces."
)
