"""Step 6: the call to the upstream, streamed both ways over pooled connections.

All upstream HTTP goes through here: one keep-alive client per process
(proxy/upstream.py), connect and read timeouts from the API, failures reduced to
502/504. The read timeout bounds each read *and* the whole response head, so an
upstream dripping its headers is a 504 after read_timeout seconds. The
first body chunk is read before the status goes to the client, so an upstream
that resets or stalls right after its headers is still a 502/504, not a
truncated 200.
"""

import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import quote

from django.conf import settings

from .config import ApiConfig
from .errors import (
    GatewayError,
    InvalidRequest,
    LengthRequired,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .headers import GATEWAY_HEADER_PREFIX, connection_listed, is_hop_by_hop
from .upstream import UpstreamClient, UpstreamFailure, UpstreamResponse

logger = logging.getLogger(__name__)
CHUNK_SIZE = 64 * 1024
_client = UpstreamClient(max_idle_per_origin=settings.GATEWAY_UPSTREAM_POOL_SIZE)
# Headers that carry where a request came from. Only the gateway writes them
# (GatewayApp._forwarding_headers); a client's own values are never passed on.
FORWARDING_HEADERS = frozenset(
    {
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "x-forwarded-server",
        "x-forwarded-ssl",
        "x-forwarded-protocol",
        "x-real-ip",
        "forwarded",
        "via",
    }
)
# RFC 9110 §5.1/§5.5 (the same rule gunicorn applies): anything else in an upstream's
# response head would be a 500 in the WSGI server, or split the client's response.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[ \t\x21-\x7e\x80-\xff]*")


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    path_and_query: str
    headers: dict[str, str]
    body: object  # None, or an iterator of bytes
    chunked: bool


def upstream_path(api: ApiConfig, segments: list[str], trailing_slash: bool, query: str) -> str:
    path = api.upstream.path + "".join(
        "/" + quote(segment, safe="!$&'()*+,;=:@~") for segment in segments
    )
    if trailing_slash or not path:
        path += "/"
    return path + ("?" + query if query else "")


def request_headers(environ: dict, drop: set[str]) -> dict[str, str]:
    """The client's end-to-end headers, minus hop-by-hop, gateway-reserved and `drop`."""
    listed = connection_listed(environ.get("HTTP_CONNECTION"))
    headers = {}
    for key, value in environ.items():
        if not key.startswith("HTTP_"):
            continue
        name = key[5:].replace("_", "-").lower()
        if (
            name in drop
            or is_hop_by_hop(name, listed)
            or name.startswith(GATEWAY_HEADER_PREFIX)
            or name in FORWARDING_HEADERS
            or name in {"host", "content-length", "x-request-id"}
        ):
            continue
        headers[name] = value
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def request_body(environ: dict) -> tuple[object, dict[str, str], bool]:
    """(body, framing headers, chunked) re-framed from what the server parsed.

    The first chunk is read before the upstream is contacted: a malformed chunked
    body (gunicorn decodes chunks lazily) or a client gone mid-body is a 400 that
    never reaches the upstream. gunicorn closes a connection whose body failed.
    """
    length = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if length.isdigit() and int(length) > 0:
        body = _read_exactly(stream, int(length))
        return _prefetched(body), {"content-length": length}, False
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        if not environ.get("wsgi.input_terminated"):
            # This server hands us the body undecoded (wsgiref): refuse rather than drop it.
            raise LengthRequired("Send a Content-Length; this server cannot stream chunked bodies.")
        return _prefetched(_read_until_eof(stream)), {}, True
    return None, {}, False


def _prefetched(chunks: Iterator[bytes]) -> Iterator[bytes]:
    first = next(chunks, None)
    return iter(()) if first is None else itertools.chain((first,), chunks)


def _client_read(stream, size: int) -> bytes:
    try:
        return stream.read(size)
    except Exception:  # each server raises its own types for a broken body
        raise InvalidRequest(
            "The request body is malformed or was cut short.", check="forward"
        ) from None


def _read_exactly(stream, remaining: int) -> Iterator[bytes]:
    while remaining > 0:
        chunk = _client_read(stream, min(CHUNK_SIZE, remaining))
        if not chunk:
            raise InvalidRequest("The client closed the connection mid-body.", check="forward")
        remaining -= len(chunk)
        yield chunk


def _read_until_eof(stream) -> Iterator[bytes]:
    while True:
        chunk = _client_read(stream, CHUNK_SIZE)
        if not chunk:
            return
        yield chunk


def send(api: ApiConfig, request: UpstreamRequest) -> UpstreamResponse:
    upstream = api.upstream
    try:
        return _client.request(
            upstream.scheme,
            upstream.host,
            upstream.port,
            request.method,
            request.path_and_query,
            request.headers.items(),
            body=request.body,
            chunked=request.chunked,
            connect_timeout=api.connect_timeout,
            read_timeout=api.read_timeout,
            # The whole response head must arrive within the read timeout: a dripping
            # upstream cannot hold a worker.
            header_deadline=api.read_timeout,
        )
    except UpstreamFailure as failure:
        raise _upstream_error(failure) from None


def _upstream_error(failure: UpstreamFailure) -> GatewayError:
    logger.info("Upstream failure (%s): %s", failure.kind, failure)
    if failure.kind == "connect_timeout":
        return UpstreamTimeout(
            "The upstream did not accept the connection in time.", check="forward"
        )
    if failure.kind == "timeout":
        return UpstreamTimeout("The upstream did not answer in time.", check="forward")
    if failure.kind == "refused":
        return UpstreamUnavailable("The upstream refused the connection.", check="forward")
    return UpstreamUnavailable("The upstream refused or dropped the connection.", check="forward")


_KNOWN_STATUSES = frozenset(status.value for status in HTTPStatus)


def status_line(response: UpstreamResponse) -> str:
    if not 200 <= response.status <= 599:
        # http.client skips 100 Continue; a 101 or an odd code cannot be relayed as is.
        raise UpstreamUnavailable(
            f"The upstream answered with status {response.status}.", check="forward"
        )
    reason = response.reason or ""
    if not _FIELD_VALUE.fullmatch(reason):
        reason = HTTPStatus(response.status).phrase if response.status in _KNOWN_STATUSES else ""
    return f"{response.status} {reason}".rstrip()


def response_headers(response: UpstreamResponse) -> list[tuple[str, str]]:
    """The upstream's end-to-end headers; an invalid header makes the response invalid (502)."""
    listed = connection_listed(
        ",".join(value for name, value in response.headers if name.lower() == "connection")
    )
    chunked = any(
        name.lower() == "transfer-encoding" and "chunked" in value.lower()
        for name, value in response.headers
    )
    headers = []
    for name, value in response.headers:
        if not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            logger.info("Upstream sent an invalid header field %r", name[:100])
            raise UpstreamUnavailable(
                "The upstream sent an invalid response header.", check="forward"
            )
        if is_hop_by_hop(name, listed):
            continue
        if chunked and name.lower() == "content-length":
            continue  # chunked framing wins (RFC 9112 §6.3); never relay a conflicting length
        headers.append((name, value))
    return headers


class ResponseBody:
    """WSGI body streaming the upstream response; returns the connection to the pool.

    Creating it reads the first chunk, so a reset or stall right after the
    upstream's headers raises UpstreamUnavailable/UpstreamTimeout while the
    client can still get a 502/504.
    """

    def __init__(self, response: UpstreamResponse):
        self._response = response
        self._chunks = response.stream()
        try:
            self._first = next(self._chunks, None)
        except UpstreamFailure as failure:
            response.close()
            raise _upstream_error(failure) from None

    def __iter__(self) -> Iterator[bytes]:
        try:
            if self._first is not None:
                yield self._first
                self._first = None
                yield from self._chunks
        except UpstreamFailure as failure:
            # Headers are already sent: all we can do is cut the response short.
            logger.warning("Upstream response broke off: %s", failure)

    def close(self) -> None:
        self._response.close()
