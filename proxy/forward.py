"""Step 6: the call to the upstream, streamed both ways over pooled connections.

All upstream HTTP goes through here: one urllib3 PoolManager per process,
connect and read timeouts from the API, failures reduced to 502/504.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import urllib3
from django.conf import settings
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.exceptions import (
    TimeoutError as Urllib3Timeout,
)

from .config import ApiConfig
from .errors import LengthRequired, UpstreamTimeout, UpstreamUnavailable
from .headers import GATEWAY_HEADER_PREFIX, connection_listed, is_hop_by_hop

logger = logging.getLogger(__name__)
CHUNK_SIZE = 64 * 1024
_pool = urllib3.PoolManager(
    num_pools=256, maxsize=settings.GATEWAY_UPSTREAM_POOL_SIZE, block=False, retries=False
)
# A connection error means nothing was sent, so one retry is safe for any method;
# a failure after sending is never retried.
_RETRY = urllib3.Retry(total=1, connect=1, read=0, redirect=0, status=0, other=0)


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
            or name
            in {
                "host",
                "content-length",
                "x-forwarded-for",
                "x-forwarded-proto",
                "x-forwarded-host",
                "x-request-id",
                "via",
            }
        ):
            continue
        headers[name] = value
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


def request_body(environ: dict) -> tuple[object, dict[str, str], bool]:
    """(body, framing headers, chunked) re-framed from what the server parsed."""
    length = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if length.isdigit() and int(length) > 0:
        return _read_exactly(stream, int(length)), {"content-length": length}, False
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        if not environ.get("wsgi.input_terminated"):
            # This server hands us the body undecoded (wsgiref): refuse rather than drop it.
            raise LengthRequired("Send a Content-Length; this server cannot stream chunked bodies.")
        return _read_until_eof(stream), {}, True
    return None, {}, False


def _read_exactly(stream, remaining: int) -> Iterator[bytes]:
    while remaining > 0:
        chunk = stream.read(min(CHUNK_SIZE, remaining))
        if not chunk:
            raise UpstreamUnavailable("The client closed the connection mid-body.")
        remaining -= len(chunk)
        yield chunk


def _read_until_eof(stream) -> Iterator[bytes]:
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if not chunk:
            return
        yield chunk


def send(api: ApiConfig, request: UpstreamRequest) -> urllib3.BaseHTTPResponse:
    url = api.upstream.origin + request.path_and_query
    timeout = urllib3.Timeout(connect=api.connect_timeout, read=api.read_timeout)
    try:
        return _pool.urlopen(
            request.method,
            url,
            body=request.body,
            headers=request.headers,
            chunked=request.chunked,
            retries=_RETRY,
            redirect=False,
            assert_same_host=False,
            timeout=timeout,
            preload_content=False,
            decode_content=False,
        )
    except MaxRetryError as exc:
        raise _upstream_error(exc.reason) from None
    except (UpstreamTimeout, UpstreamUnavailable):
        raise
    except Exception as exc:  # urllib3/http.client raise many types for a broken peer
        raise _upstream_error(exc) from None


def _upstream_error(reason: BaseException | None):
    # NewConnectionError (refused, DNS) subclasses ConnectTimeoutError, so test it first.
    if isinstance(reason, NewConnectionError):
        logger.info("Upstream connection failed: %r", reason)
        return UpstreamUnavailable("The upstream refused the connection.", check="forward")
    if isinstance(reason, ConnectTimeoutError):
        return UpstreamTimeout(
            "The upstream did not accept the connection in time.", check="forward"
        )
    if isinstance(reason, ReadTimeoutError | Urllib3Timeout):
        return UpstreamTimeout("The upstream did not answer in time.", check="forward")
    logger.info("Upstream failure: %r", reason)
    return UpstreamUnavailable("The upstream refused or dropped the connection.", check="forward")


def response_headers(response: urllib3.BaseHTTPResponse) -> list[tuple[str, str]]:
    listed = connection_listed(response.headers.get("Connection"))
    return [
        (name, value)
        for name, value in response.headers.iteritems()
        if not is_hop_by_hop(name, listed)
    ]


class ResponseBody:
    """WSGI body streaming the upstream response; returns the connection to the pool."""

    def __init__(self, response: urllib3.BaseHTTPResponse):
        self._response = response
        self._complete = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response.stream(CHUNK_SIZE, decode_content=False)
            self._complete = True
        except Exception as exc:
            # Headers are already sent: all we can do is cut the response short.
            logger.warning("Upstream response broke off: %r", exc)

    def close(self) -> None:
        if self._complete:
            self._response.release_conn()
        else:
            self._response.close()
