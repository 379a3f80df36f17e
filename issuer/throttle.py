"""Rate limits of the token endpoint: requests per client address, failures per client.

Every request counts against its address (GATEWAY_TOKEN_REQUESTS_PER_ADDRESS per
window). Each invalid_client answer counts against the client_id that was presented
(GATEWAY_TOKEN_CLIENT_FAILURES per window); once that is used up the client_id is
refused before its secret is hashed, so guessing costs neither time nor CPU.
Password guessing for a user is django-axes' job (accounts/logins.py).
"""

import base64
import binascii
from urllib.parse import unquote_plus

from django.conf import settings
from django.http import HttpRequest

from core.client_address import client_address
from core.ratelimit import Exceeded, Limit, hit, peek

ADDRESS_LIMIT = "token-address"
CLIENT_FAILURE_LIMIT = "token-client-failures"
DESCRIPTIONS = {
    ADDRESS_LIMIT: "Too many token requests from this address",
    CLIENT_FAILURE_LIMIT: "Too many failed authentications for this client",
}


def _address_limit() -> Limit:
    return Limit(
        ADDRESS_LIMIT,
        settings.GATEWAY_TOKEN_REQUESTS_PER_ADDRESS,
        settings.GATEWAY_TOKEN_RATE_WINDOW_SECONDS,
    )


def _client_failure_limit() -> Limit:
    return Limit(
        CLIENT_FAILURE_LIMIT,
        settings.GATEWAY_TOKEN_CLIENT_FAILURES,
        settings.GATEWAY_TOKEN_RATE_WINDOW_SECONDS,
    )


def presented_client_id(request: HttpRequest) -> str | None:
    """The client_id the request claims, from HTTP Basic or the body (RFC 6749 §2.3.1).

    Parsed as DOT's validator parses it (oauth2_validators._authenticate_basic_auth),
    so a failure is counted against the client_id that was actually checked.
    """
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme == "Basic" and credentials:
        try:
            decoded = base64.b64decode(credentials).decode(settings.DEFAULT_CHARSET)
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, separator, _ = decoded.partition(":")
        return unquote_plus(client_id) if separator else None
    return request.POST.get("client_id") or None


def admit(request: HttpRequest) -> Exceeded | None:
    """Count this request; the exceeded limit if it must be refused."""
    exceeded = hit(_address_limit(), client_address(request) or "unknown")
    if exceeded is not None:
        return exceeded
    client_id = presented_client_id(request)
    return peek(_client_failure_limit(), client_id) if client_id else None


def record_client_failure(request: HttpRequest) -> None:
    """The presented client failed to authenticate (invalid_client)."""
    client_id = presented_client_id(request)
    if client_id:
        hit(_client_failure_limit(), client_id)


def describe(exceeded: Exceeded) -> str:
    reason = DESCRIPTIONS.get(exceeded.limit.name, "Too many requests")
    return f"{reason}; retry in {exceeded.retry_after} seconds."
