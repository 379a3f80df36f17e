"""Every way a proxied call can fail, and the one renderer for all of them.

Errors are problem+json (RFC 9457) with a stable code and the request id;
bearer failures add a WWW-Authenticate challenge (RFC 6750); SOAP APIs get a
SOAP 1.1 or 1.2 fault chosen by the request's content type.
"""

import json
import re
from xml.sax.saxutils import escape

REALM = "gatekeep"
# RFC 6750 §3: error_description may only use %x20-21 / %x23-5B / %x5D-7E.
_UNSAFE_IN_CHALLENGE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class GatewayError(Exception):
    status = 500
    title = "Internal gateway error"
    code = "internal_error"
    bearer_error: str | None = None  # RFC 6750 error code for the challenge
    soap = False  # set when the failing call was for a SOAP API

    def __init__(
        self,
        detail: str = "",
        *,
        check: str = "",
        headers: dict[str, str] | None = None,
        admin_detail: str = "",
        expected: dict | None = None,
        actual: dict | None = None,
    ):
        super().__init__(detail)
        self.detail = detail or self.title
        self.check = check  # the name of the failed check, for the decision trace
        self.headers = headers or {}
        # For admins only (the token inspector), never rendered to the proxied client:
        # what the API expected versus what the token had, e.g. the trusted issuers or
        # the audiences, which a client probing the gateway must not learn.
        self.admin_detail = admin_detail or self.detail
        self.expected = expected
        self.actual = actual


class ApiNotFound(GatewayError):
    status, title, code = 404, "API not found", "api_not_found"


class RouteNotFound(GatewayError):
    status, title, code = 404, "Route not found", "route_not_found"


class MethodNotAllowed(GatewayError):
    status, title, code = 405, "Method not allowed", "method_not_allowed"


class InvalidRequest(GatewayError):
    status, title, code = 400, "Invalid request", "invalid_request"
    bearer_error = "invalid_request"


class RequestTimeout(GatewayError):
    status, title, code = 408, "Request timeout", "request_timeout"


class UriTooLong(GatewayError):
    status, title, code = 414, "URI too long", "uri_too_long"


class HeaderFieldsTooLarge(GatewayError):
    status, title, code = 431, "Request header fields too large", "request_header_fields_too_large"


class LoopDetected(GatewayError):
    status, title, code = 508, "Loop detected", "loop_detected"


class TooManyConnections(GatewayError):
    status, title, code = 503, "Too many connections", "too_many_connections"


class MissingToken(GatewayError):
    status, title, code = 401, "Token missing", "missing_token"


class InvalidToken(GatewayError):
    status, title, code = 401, "Invalid token", "invalid_token"
    bearer_error = "invalid_token"


class ApplicationNotAuthorized(GatewayError):
    status, title, code = 403, "Application not authorized", "application_not_authorized"


class InsufficientScope(GatewayError):
    status, title, code = 403, "Insufficient scope", "insufficient_scope"
    bearer_error = "insufficient_scope"

    def __init__(self, detail: str, missing: list[str], **facts):
        super().__init__(detail, check="scopes", **facts)
        self.missing = missing


class IssuerUnavailable(GatewayError):
    status, title, code = 503, "Issuer unavailable", "issuer_unavailable"


class UpstreamUnavailable(GatewayError):
    status, title, code = 502, "Upstream unavailable", "upstream_unavailable"


class UpstreamTimeout(GatewayError):
    status, title, code = 504, "Upstream timed out", "upstream_timeout"


STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    508: "Loop Detected",
}


def challenge(error: GatewayError) -> str | None:
    """The WWW-Authenticate value for token-related errors, or None."""
    if isinstance(error, MissingToken):
        return f'Bearer realm="{REALM}"'
    if error.bearer_error is None:
        return None
    description = _UNSAFE_IN_CHALLENGE.sub(" ", error.detail)[:200]
    value = (
        f'Bearer realm="{REALM}", error="{error.bearer_error}", error_description="{description}"'
    )
    if isinstance(error, InsufficientScope):
        value += f', scope="{_UNSAFE_IN_CHALLENGE.sub(" ", " ".join(error.missing))}"'
    return value


def render_error(
    error: GatewayError, request_id: str, soap_content_type: str | None = None
) -> tuple[str, list[tuple[str, str]], bytes]:
    """status line, headers, body; soap_content_type is set for SOAP APIs."""
    if soap_content_type is not None:
        content_type, body = _soap_fault(error, request_id, soap_content_type)
    else:
        content_type = "application/problem+json"
        body = json.dumps(
            {
                "type": "about:blank",
                "title": error.title,
                "status": error.status,
                "detail": error.detail,
                "code": error.code,
                "request_id": request_id,
            }
        ).encode()
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("X-Request-Id", request_id),
    ]
    www_authenticate = challenge(error)
    if www_authenticate:
        headers.append(("WWW-Authenticate", www_authenticate))
    headers.extend(error.headers.items())
    return f"{error.status} {STATUS_TEXT.get(error.status, 'Error')}", headers, body


def _soap_fault(error: GatewayError, request_id: str, request_type: str) -> tuple[str, bytes]:
    detail = escape(error.detail)
    sender = error.status < 500
    if "application/soap+xml" in request_type.lower():
        code = "soap:Sender" if sender else "soap:Receiver"
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">'
            "<soap:Body><soap:Fault>"
            f"<soap:Code><soap:Value>{code}</soap:Value></soap:Code>"
            f'<soap:Reason><soap:Text xml:lang="en">{detail}</soap:Text></soap:Reason>'
            f"<soap:Detail><gatewayError><code>{error.code}</code>"
            f"<requestId>{escape(request_id)}</requestId></gatewayError></soap:Detail>"
            "</soap:Fault></soap:Body></soap:Envelope>"
        )
        return "application/soap+xml; charset=utf-8", body.encode()
    code = "soap:Client" if sender else "soap:Server"
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        "<soap:Body><soap:Fault>"
        f"<faultcode>{code}</faultcode><faultstring>{detail}</faultstring>"
        f"<detail><gatewayError><code>{error.code}</code>"
        f"<requestId>{escape(request_id)}</requestId></gatewayError></detail>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    )
    return "text/xml; charset=utf-8", body.encode()
