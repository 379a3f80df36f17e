"""A lean HTTP/1.1 client for upstream calls: keep-alive sockets per origin, llhttp parsing.

urllib3 and http.client spend 100-200 µs per call on header objects and layers the
proxy does not need; raw sockets plus httptools (the llhttp parser uvicorn uses)
cost about 20 µs (measured: bench/README.md). Bodies stream both ways; the phase
up to the response headers has a total deadline, so a dripping upstream cannot
hold a worker; every failure becomes an UpstreamFailure with a short kind.
"""

import re
import select
import socket
import ssl
import time
from collections import deque
from collections.abc import Iterable, Iterator

import httptools

RECV_SIZE = 65536
_UNSAFE_HEADER = re.compile(r"[\r\n\x00]")
_NO_BODY_STATUS = frozenset({204, 304})


class UpstreamFailure(Exception):
    """kind: connect_timeout, timeout, refused, reset, protocol."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class _Parsed:
    """httptools callbacks: collects one response's status, headers and body pieces."""

    __slots__ = ("body", "complete", "headers", "headers_done", "reason")

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.reason = b""
        self.headers_done = False
        self.complete = False

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class UpstreamResponse:
    """Status and headers are read; the body streams from `stream()`; always `close()`."""

    def __init__(self, client, key, sock, parser, parsed: _Parsed, read_timeout: float, head: bool):
        self._client, self._key, self._sock = client, key, sock
        self._parser, self._parsed = parser, parsed
        self._read_timeout = read_timeout
        self.status = parser.get_status_code()
        self.reason = parsed.reason.decode("latin-1")
        self.headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in parsed.headers]
        self._bodyless = head or self.status in _NO_BODY_STATUS
        self._done = self._bodyless or parsed.complete
        self._keep_alive = _keep_alive(parser.get_http_version(), parsed.headers)
        self._until_eof = not self._done and not any(
            n.lower() in {b"content-length", b"transfer-encoding"} for n, _ in parsed.headers
        )
        if self._until_eof:
            self._keep_alive = False  # the body ends when the upstream closes

    def stream(self) -> Iterator[bytes]:
        parsed = self._parsed
        while True:
            if parsed.body:
                pieces, parsed.body = parsed.body, []
                yield from pieces
            if self._done:
                return
            self._sock.settimeout(self._read_timeout)
            try:
                data = self._sock.recv(RECV_SIZE)
            except TimeoutError:
                raise UpstreamFailure("timeout", "The upstream stopped sending the body.") from None
            except OSError as exc:
                raise UpstreamFailure("reset", f"Body read failed: {exc}") from None
            if not data:
                if self._until_eof:
                    self._done, self._keep_alive = True, False
                    continue
                raise UpstreamFailure("reset", "The upstream closed the connection mid-body.")
            try:
                self._parser.feed_data(data)
            except httptools.HttpParserError as exc:
                raise UpstreamFailure("protocol", f"Malformed response body: {exc}") from None
            self._done = parsed.complete

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        reusable = self._done and not self._parsed.body and self._keep_alive
        if reusable:
            self._client._release(self._key, sock)
        else:
            sock.close()


class UpstreamClient:
    """Thread-safe; one per process. Idle keep-alive sockets are pooled per origin."""

    def __init__(self, max_idle_per_origin: int = 32):
        # deque.append/pop are atomic: no lock for threads to queue on (bench/README.md).
        self._idle: dict[tuple, deque[socket.socket]] = {}
        self._max_idle = max_idle_per_origin
        self._tls = ssl.create_default_context()

    def request(
        self,
        scheme: str,
        host: str,
        port: int,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: Iterable[bytes] | None = None,
        chunked: bool = False,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        header_deadline: float = 60.0,
    ) -> UpstreamResponse:
        key = (scheme, host, port)
        default_port = 443 if scheme == "https" else 80
        authority = host if port == default_port else f"{host}:{port}"
        head = _request_head(method, target, authority, headers, chunked)
        deadline = time.monotonic() + header_deadline
        sock, reused = self._acquire(key, connect_timeout)
        try:
            return self._exchange(key, sock, head, body, chunked, method, read_timeout, deadline)
        except UpstreamFailure as failure:
            sock.close()
            # A pooled connection the upstream closed meanwhile: retry once on a fresh one,
            # which is only safe when no request body was consumed.
            if reused and body is None and failure.kind == "stale":
                sock, _ = self._connect(key, connect_timeout), False
                try:
                    return self._exchange(
                        key, sock, head, None, chunked, method, read_timeout, deadline
                    )
                except UpstreamFailure:
                    sock.close()
                    raise
            if failure.kind == "stale":
                raise UpstreamFailure("reset", str(failure)) from None
            raise
        except BaseException:
            sock.close()
            raise

    def _exchange(self, key, sock, head, body, chunked, method, read_timeout, deadline):
        sock.settimeout(read_timeout)
        try:
            if body is None:
                sock.sendall(head)
            else:
                sock.sendall(head)
                for chunk in body:
                    if not chunk:
                        continue
                    if chunked:
                        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    else:
                        sock.sendall(chunk)
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
        except TimeoutError:
            raise UpstreamFailure(
                "timeout", "Sending the request to the upstream timed out."
            ) from None
        except OSError as exc:
            raise UpstreamFailure("stale", f"Sending to the upstream failed: {exc}") from None
        return self._read_head(key, sock, method, read_timeout, deadline)

    def _read_head(self, key, sock, method, read_timeout, deadline) -> UpstreamResponse:
        received_any = False
        while True:
            parsed = _Parsed()
            parser = httptools.HttpResponseParser(parsed)
            while not parsed.headers_done:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise UpstreamFailure("timeout", "The upstream did not answer in time.")
                sock.settimeout(min(read_timeout, remaining))
                try:
                    data = sock.recv(RECV_SIZE)
                except TimeoutError:
                    raise UpstreamFailure(
                        "timeout", "The upstream did not answer in time."
                    ) from None
                except OSError as exc:
                    kind = "reset" if received_any else "stale"
                    raise UpstreamFailure(kind, f"Reading the upstream failed: {exc}") from None
                if not data:
                    kind = "reset" if received_any else "stale"
                    raise UpstreamFailure(kind, "The upstream closed the connection.")
                received_any = True
                try:
                    parser.feed_data(data)
                except httptools.HttpParserUpgrade:
                    raise UpstreamFailure("protocol", "The upstream tried to upgrade.") from None
                except httptools.HttpParserError as exc:
                    raise UpstreamFailure("protocol", f"Malformed response: {exc}") from None
            status = parser.get_status_code()
            if 100 <= status < 200:
                continue  # interim response (100 Continue): the real one follows
            return UpstreamResponse(self, key, sock, parser, parsed, read_timeout, method == "HEAD")

    def _acquire(self, key: tuple, connect_timeout: float) -> tuple[socket.socket, bool]:
        idle = self._idle.get(key)
        while idle:
            try:
                sock = idle.pop()
            except IndexError:  # another thread took the last one
                break
            if _is_open(sock):
                return sock, True
            sock.close()
        return self._connect(key, connect_timeout), False

    def _connect(self, key: tuple, connect_timeout: float) -> socket.socket:
        scheme, host, port = key
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout)
        except TimeoutError:
            raise UpstreamFailure(
                "connect_timeout", "Connecting to the upstream timed out."
            ) from None
        except OSError as exc:
            raise UpstreamFailure("refused", f"Cannot connect to the upstream: {exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme == "https":
            try:
                sock = self._tls.wrap_socket(sock, server_hostname=host)
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                raise UpstreamFailure("refused", f"TLS with the upstream failed: {exc}") from None
        return sock

    def _release(self, key: tuple, sock: socket.socket) -> None:
        idle = self._idle.get(key)
        if idle is None:
            idle = self._idle.setdefault(key, deque())
        if len(idle) < self._max_idle:  # may overshoot by a few under a race: harmless
            idle.append(sock)
            return
        sock.close()

    def close_idle(self) -> None:
        for idle in list(self._idle.values()):
            while idle:
                try:
                    idle.pop().close()
                except IndexError:
                    break


def _keep_alive(version: str, headers: list[tuple[bytes, bytes]]) -> bool:
    """llhttp forgets keep-alive once a message completes, so decide from the headers."""
    tokens = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(token.strip().lower() for token in value.split(b","))
    if version == "1.1":
        return b"close" not in tokens
    return b"keep-alive" in tokens


def _is_open(sock: socket.socket) -> bool:
    """An idle keep-alive socket is usable only if the upstream has not closed it."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable  # readable while idle means EOF or stray bytes: either way, discard


def _request_head(
    method: str, target: str, authority: str, headers: Iterable[tuple[str, str]], chunked: bool
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}"]
    for name, value in headers:
        if _UNSAFE_HEADER.search(value) or _UNSAFE_HEADER.search(name):
            raise UpstreamFailure(
                "protocol", f"Refusing to send header {name!r}: control characters."
            )
        lines.append(f"{name}: {value}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if _UNSAFE_HEADER.search(target) or " " in target:
        raise UpstreamFailure(
            "protocol", "Refusing to send a request target with control characters."
        )
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise UpstreamFailure("protocol", "Refusing to send a non-Latin-1 header.") from None
