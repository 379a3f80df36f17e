"""Rules for authorization-server fields, shared by models, forms and serializers."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from authservers.choices import SUPPORTED_ALGORITHMS


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_issuer_url(value: str) -> None:
    """https anywhere; http only for loopback unless GATEWAY_ALLOW_HTTP_ISSUERS is set."""
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValidationError("Enter a valid URL.") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError("Enter an absolute http(s) URL.")
    if parts.username or parts.password:
        raise ValidationError("The URL must not carry credentials.")
    if parts.fragment:
        raise ValidationError("The URL must not have a fragment.")
    if parts.scheme == "http" and not (
        settings.GATEWAY_ALLOW_HTTP_ISSUERS or is_loopback_host(parts.hostname)
    ):
        raise ValidationError("Use https:// (plain http is only allowed for loopback hosts).")


def validate_algorithms(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError("Give a non-empty list of algorithms.")
    unknown = [alg for alg in value if alg not in SUPPORTED_ALGORITHMS]
    if unknown:
        raise ValidationError(
            f"Unsupported algorithm(s): {', '.join(map(str, unknown))}. "
            f"Choose from {', '.join(SUPPORTED_ALGORITHMS)}."
        )
