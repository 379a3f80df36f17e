"""The data plane's HTTP server: uvicorn's llhttp protocol with the gateway's limits.

uvicorn parses with httptools (llhttp), which refuses every ambiguous framing of
tests/faults/test_request_framing.py with a 400 and a closed connection. On top
of it, per connection:
- a header deadline: a client has GATEWAY_CLIENT_HEADER_TIMEOUT seconds from its
  first byte (or from connecting) to finish the request head, or it gets a 408
  and the connection closes (slow or idle clients cost a socket, not a worker);
- limits on the request line, the number and size of header fields and the
  whole head, each a 400 (431 for the head) before the application runs;
- header names with "_" are dropped (X_Gateway_Application never collides with
  X-Gateway-Application), as gunicorn's header_map=drop did;
- at most GATEWAY_MAX_CONNECTIONS connections per worker: beyond that a new
  connection gets a 503 problem and is closed.

DataPlaneWorker runs it under gunicorn's process manager (conf/public.py).
"""

from django.conf import settings
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker

from core.hot_settings import hot
from proxy.errors import (
    GatewayError,
    HeaderFieldsTooLarge,
    InvalidRequest,
    RequestTimeout,
    TooManyConnections,
    UriTooLong,
    render_error,
)


class HeadTooLarge(Exception):
    """Raised inside a parser callback: llhttp turns it into a parser error, and
    send_400_response sends the refusal the callback chose instead of a plain 400."""


def _refusal(error: GatewayError) -> bytes:
    """A whole response, rendered once at import by the proxy's one error renderer; the
    connection closes after it (no request id: the request was never read)."""
    status_line, headers, body = render_error(error, "-")
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"HTTP/1.1 {status_line}\r\n{head}Connection: close\r\n\r\n".encode() + body


MALFORMED = _refusal(
    InvalidRequest("The request is malformed: its framing, header syntax or encoding is invalid.")
)
URI_TOO_LONG = _refusal(UriTooLong("The request line is too long."))
FIELDS_TOO_LARGE = _refusal(
    HeaderFieldsTooLarge("A header field is too long, or there are too many of them.")
)
HEAD_TOO_LARGE = _refusal(HeaderFieldsTooLarge("The request head is too large."))
HEADER_TIMEOUT = _refusal(RequestTimeout("The request head did not arrive in time."))
REFUSED_TOO_MANY = _refusal(
    TooManyConnections("This gateway worker has too many open connections; retry shortly.")
)


class GatewayHttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._head_bytes = 0
        self._in_head = True
        self._fields = 0
        self._url_length = 0
        self._header_timer = None
        self._refusal = MALFORMED
        # The limits, read once per connection: a settings lookup per header field
        # costs more than the check itself.
        self._max_head = settings.GATEWAY_LIMIT_REQUEST_HEAD
        self._max_line = settings.GATEWAY_LIMIT_REQUEST_LINE
        self._max_fields = settings.GATEWAY_LIMIT_REQUEST_FIELDS
        self._max_field_size = settings.GATEWAY_LIMIT_REQUEST_FIELD_SIZE
        if len(self.connections) > settings.GATEWAY_MAX_CONNECTIONS:
            transport.write(REFUSED_TOO_MANY)
            transport.close()
            return
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(
                hot.GATEWAY_CLIENT_HEADER_TIMEOUT, self._header_timeout
            )

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.write(HEADER_TIMEOUT)
            self.transport.close()

    def connection_lost(self, exc) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        counting = self._in_head
        if counting:
            self._head_bytes += len(data)
        super().data_received(data)
        # Still inside the head after this much: the parser would keep buffering it.
        if (
            counting
            and self._in_head
            and self._head_bytes > self._max_head
            and not self.transport.is_closing()
        ):
            self._disarm_header_timer()
            self.transport.write(HEAD_TOO_LARGE)
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._fields = 0
        self._hosts = 0
        self._url_length = 0
        self._arm_header_timer()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to any parser error: the gateway's problem+json, then close."""
        self._disarm_header_timer()
        if not self.transport.is_closing():
            self.transport.write(self._refusal)
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self._url_length += len(url)
        if self._url_length > self._max_line:
            self._refusal = URI_TOO_LONG
            raise HeadTooLarge("request line too long")
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        if self._fields > self._max_fields or len(name) + len(value) + 2 > self._max_field_size:
            self._refusal = FIELDS_TOO_LARGE
            raise HeadTooLarge("header fields too large")
        if name.lower() == b"host":
            self._hosts += 1
        if b"_" in name:
            return  # dropped, as gunicorn's header_map=drop
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._hosts != 1 and self.parser.get_http_version() == "1.1":
            # RFC 9112 §3.2: exactly one Host in HTTP/1.1; two would let the gateway and
            # the upstream disagree on which host was meant.
            raise HeadTooLarge("not exactly one Host header")
        self._disarm_header_timer()
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()


class DataPlaneWorker(UvicornWorker):
    """gunicorn worker running uvicorn with uvloop and the gateway's protocol."""

    CONFIG_KWARGS = {
        "loop": "uvloop",
        "http": GatewayHttpProtocol,
        "lifespan": "on",
        "proxy_headers": False,  # X-Forwarded-* are the gateway's to judge (TrustedProxies)
        "server_header": False,
        "date_header": True,
        "ws": "none",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.config.timeout_keep_alive = settings.GATEWAY_KEEPALIVE_SECONDS
