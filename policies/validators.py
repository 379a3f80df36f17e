"""The rules of each policy type's fields, shared by clean() and the proxy's compile step."""

import ipaddress
import re

from django.core.exceptions import ValidationError

from apis.choices import CALL_METHODS
from core.reserved_headers import (
    FORWARDING_HEADERS,
    FRAMING_HEADERS,
    HOP_BY_HOP,
    OVERRIDE_HEADERS,
)

MAX_LIST = 200
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}\Z")  # RFC 9110 token
_QUERY_NAME = re.compile(r"^[A-Za-z0-9._~:@!$'()*+,;-]{1,100}\Z")
# Printable ASCII and tab; never CR, LF, NUL or other control characters (header injection).
_CONSTANT = re.compile(r"^[\t\x20-\x7e]{0,1024}\Z")
_MEDIA_TYPE = re.compile(r"^[a-z0-9!#$&^_.+-]{1,64}/(\*|[a-z0-9!#$&^_.+-]{1,64})\Z")
_HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# An origin as browsers serialize it (RFC 6454): scheme://host[:port], nothing else.
ORIGIN = re.compile(
    rf"^(https?)://((?:{_HOST_LABEL}\.)*{_HOST_LABEL}|\[[0-9a-f:.]+\])(?::(\d{{1,5}}))?\Z"
)
_ORIGIN_PATTERN = re.compile(
    rf"^(https?)://\*\.((?:{_HOST_LABEL}\.)*{_HOST_LABEL})(?::(\d{{1,5}}))?\Z"
)

# Headers a request transformation may never write or rename into: the gateway sets or
# strips them for security, from the same lists the proxy uses (core/reserved_headers.py).
PROTECTED_REQUEST_HEADERS = (
    HOP_BY_HOP
    | FRAMING_HEADERS
    | FORWARDING_HEADERS
    | OVERRIDE_HEADERS
    # credentials the gateway removes unless the policy forwards them
    | frozenset({"authorization", "cookie"})
)
PROTECTED_RESPONSE_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "upgrade",
        "trailer",
        "content-length",
        "x-request-id",
        "set-cookie",
        "date",
        "server",
    }
)
GATEWAY_HEADER_PREFIX = "x-gateway-"
CORS_HEADER_PREFIX = "access-control-"


def is_protected_header(name: str, response: bool) -> bool:
    lowered = name.lower().replace("_", "-")
    if lowered.startswith(GATEWAY_HEADER_PREFIX):
        return True
    if response:
        # CORS headers belong to the CORS policy: a transformation cannot widen it.
        return lowered in PROTECTED_RESPONSE_HEADERS or lowered.startswith(CORS_HEADER_PREFIX)
    return lowered in PROTECTED_REQUEST_HEADERS


def _string_list(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(f"Give a list of {what}.")
    if len(value) > MAX_LIST:
        raise ValidationError(f"At most {MAX_LIST} {what}.")
    return value


def validate_origin_list(value: object) -> None:
    """Exact origins (https://app.example.com[:port]), subdomain patterns
    (https://*.example.com), or "*" alone; never "null"."""
    for origin in _string_list(value, "origins"):
        if origin == "*":
            continue
        if origin.lower() == "null":
            raise ValidationError(
                '"null" is the origin of sandboxed frames, file: pages and redirects: any '
                "site can send it, so it cannot be allowed."
            )
        if origin != origin.lower():
            raise ValidationError(f"{origin!r}: write origins in lower case.")
        pattern = _ORIGIN_PATTERN.match(origin)
        if not (ORIGIN.match(origin) or pattern):
            raise ValidationError(
                f"{origin!r} is not an origin: use scheme://host[:port] with no path or "
                "trailing slash, or scheme://*.domain for its subdomains."
            )
        if pattern and "." not in pattern.group(2):
            # https://*.com would admit every site under a top-level domain.
            raise ValidationError(
                f"{origin!r} allows every site under .{pattern.group(2)}: name a domain, "
                "as in https://*.example.com."
            )


def validate_method_list(value: object) -> None:
    for method in _string_list(value, "methods"):
        if method not in CALL_METHODS:
            raise ValidationError(f"{method!r} is not a method: use {', '.join(CALL_METHODS)}.")


def validate_header_name_list(value: object) -> None:
    for name in _string_list(value, "header names"):
        validate_header_name(name)


def validate_header_name(value: str) -> None:
    if not _HEADER_NAME.match(value or ""):
        raise ValidationError(f"{value!r} is not a header name.")


def validate_query_name(value: str) -> None:
    if not _QUERY_NAME.match(value or ""):
        raise ValidationError(f"{value!r} is not a query parameter name (unreserved characters).")


def validate_constant(value: str) -> None:
    if not _CONSTANT.match(value):
        raise ValidationError(
            "Use printable ASCII only (at most 1,024 characters): no CR, LF or other "
            "control characters."
        )


def validate_network_list(value: object) -> None:
    """IPv4/IPv6 addresses or CIDR networks."""
    for entry in _string_list(value, "addresses or networks"):
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            raise ValidationError(
                f"{entry!r} is not an IPv4/IPv6 address or CIDR network."
            ) from None


def validate_media_type_list(value: object) -> None:
    for media_type in _string_list(value, "media types"):
        if not _MEDIA_TYPE.match(media_type):
            raise ValidationError(
                f"{media_type!r} is not a media type: use type/subtype or type/*, lower case, "
                "without parameters."
            )
