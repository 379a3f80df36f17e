"""An asynchronous HTTP/1.1 client for upstream calls: keep-alive connections per origin, llhttp.

Each upstream connection is an asyncio Protocol fed straight into httptools (the
llhttp parser uvicorn uses): no streams layer, no task per request, timeouts as
loop timers. Bodies stream both ways with backpressure (the client waits for
the upstream socket to drain; a slow reader pauses the upstream socket). The
phase up to the response headers has a total deadline, so a dripping upstream
costs a timer, not a worker. Every failure becomes an UpstreamFailure with a
short kind. Addresses are checked against the outbound policy after DNS, and
the connection goes to the checked address (no second resolution to rebind).
"""

import asyncio
import ipaddress
import re
import socket
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable

import httptools

# Buffered response body above which the upstream socket is paused until the client catches up.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
_UNSAFE_HEADER = re.compile(r"[\r\n\x00]")
_NO_BODY_STATUS = frozenset({204, 304})


class UpstreamFailure(Exception):
    """kind: connect_timeout, timeout, refused, reset, protocol, denied (and internally stale)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class _Connection(asyncio.Protocol):
    """One upstream socket, one exchange at a time; the parser callbacks live here too."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle = True  # between exchanges: any byte or EOF makes the connection unusable
        self._parser = None
        self._waiter: asyncio.Future | None = None
        self._write_waiter: asyncio.Future | None = None
        self._paused_writing = False
        self._paused_reading = False
        self._error: UpstreamFailure | None = None
        # Per exchange
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.complete = False
        self.body: deque[bytes] = deque()
        self.buffered = 0
        self.received_any = False
        self.until_eof = False
        self._interim = False
        self._bodyless = False

    # -- exchange lifecycle -------------------------------------------------------
    def begin(self, method: str) -> None:
        self.idle = False
        self._parser = httptools.HttpResponseParser(self)
        self.reason, self.headers = b"", []
        self.headers_done = self.complete = self.received_any = self.until_eof = False
        self._interim = False
        self._bodyless = method == "HEAD"
        self.body.clear()
        self.buffered = 0
        self._error = None

    def write(self, data: bytes) -> None:
        if self.closed:
            raise UpstreamFailure("stale", "The upstream connection is closed.")
        self.transport.write(data)

    async def drain(self, timeout: float) -> None:
        if self._paused_writing and not self.closed:
            self._write_waiter = self._loop.create_future()
            await self._wait(self._write_waiter, timeout, "Sending the request timed out.")
        if self.closed:
            raise self._error or UpstreamFailure("stale", "The upstream closed the connection.")

    async def wait_head(self, deadline: float, read_timeout: float) -> None:
        while not self.headers_done:
            self._raise_if_failed()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UpstreamFailure("timeout", "The upstream did not answer in time.")
            self._waiter = self._loop.create_future()
            await self._wait(
                self._waiter, min(remaining, read_timeout), "The upstream did not answer in time."
            )

    async def next_chunk(self, read_timeout: float) -> bytes | None:
        """The next piece of the response body, or None at its end."""
        while True:
            if self.body:
                chunk = self.body.popleft()
                self.buffered -= len(chunk)
                if self._paused_reading and self.buffered <= LOW_WATER and not self.closed:
                    self._paused_reading = False
                    self.transport.resume_reading()
                return chunk
            if self.complete:
                return None
            self._raise_if_failed()
            self._waiter = self._loop.create_future()
            await self._wait(self._waiter, read_timeout, "The upstream stopped sending the body.")

    def finish(self) -> bool:
        """End the exchange; True when the connection may serve another one."""
        self._parser = None
        self.idle = True
        return self.complete and not self.body and not self.closed

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    async def _wait(self, future: asyncio.Future, timeout: float, message: str) -> None:
        timer = self._loop.call_later(timeout, _expire, future, message)
        try:
            await future
        finally:
            timer.cancel()
            if self._waiter is future:
                self._waiter = None

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
        if self.closed:
            kind = "reset" if self.received_any else "stale"
            raise UpstreamFailure(kind, "The upstream closed the connection.")

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, failure: UpstreamFailure) -> None:
        if self._error is None:
            self._error = failure
        self._wake()

    # -- asyncio.Protocol ------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.idle or self.complete:
            # Nothing was asked: stray bytes make the connection unusable.
            self.abort()
            return
        self.received_any = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamFailure("protocol", "The upstream tried to upgrade."))
            self.abort()
        except httptools.HttpParserError as exc:
            self._fail(UpstreamFailure("protocol", f"Malformed response: {exc}"))
            self.abort()
        if self.buffered > HIGH_WATER and not self._paused_reading and not self.closed:
            self._paused_reading = True
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        if self.until_eof and self.headers_done and not self.idle:
            self.complete = True  # the body ends when the upstream closes
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete and not self.idle:
            kind = "reset" if self.received_any else "stale"
            self._fail(UpstreamFailure(kind, f"The upstream connection was lost: {exc}"))
        self._wake()
        waiter = self._write_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        waiter = self._write_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- httptools callbacks ---------------------------------------------------------
    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            # An interim response (100 Continue): the real one follows.
            self._interim = True
            self.reason, self.headers = b"", []
            return
        self.headers_done = True
        if self._bodyless or status in _NO_BODY_STATUS:
            self.complete = True
        elif not any(
            n.lower() in (b"content-length", b"transfer-encoding") for n, _ in self.headers
        ):
            self.until_eof = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return  # a HEAD answer's announced body is never read
        self.body.append(body)
        self.buffered += len(body)
        self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self.complete = True
        self._wake()


def _expire(future: asyncio.Future, message: str) -> None:
    if not future.done():
        future.set_exception(UpstreamFailure("timeout", message))


class UpstreamResponse:
    """Status and headers are read; the body streams from `stream()`; always `close()`."""

    def __init__(self, client, key, conn: _Connection, read_timeout: float):
        self._client, self._key, self._conn = client, key, conn
        self._read_timeout = read_timeout
        self.status = conn._parser.get_status_code()
        self.reason = conn.reason.decode("latin-1")
        self.headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in conn.headers]
        self._keep_alive = not conn.until_eof and _keep_alive(
            conn._parser.get_http_version(), conn.headers
        )

    async def next_chunk(self) -> bytes | None:
        return await self._conn.next_chunk(self._read_timeout)

    @property
    def finished(self) -> bool:
        """True when every body byte has been handed out by next_chunk()."""
        conn = self._conn
        return conn.complete and not conn.body

    async def stream(self) -> AsyncIterator[bytes]:
        while (chunk := await self.next_chunk()) is not None:
            yield chunk

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if conn.finish() and self._keep_alive:
            self._client._release(self._key, conn)
        else:
            conn.abort()


class UpstreamClient:
    """One per event loop. Idle keep-alive connections are pooled per origin."""

    def __init__(
        self,
        max_idle_per_origin: int = 32,
        refuse_address: Callable[[str], str | None] | None = None,
        refuse_host: Callable[[str], str | None] | None = None,
    ):
        self._idle: dict[tuple, deque[_Connection]] = {}
        self._max_idle = max_idle_per_origin
        self._tls = ssl.create_default_context()
        self._refuse_address = refuse_address
        self._refuse_host = refuse_host

    async def request(
        self,
        scheme: str,
        host: str,
        port: int,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: AsyncIterator[bytes] | None = None,
        chunked: bool = False,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        header_deadline: float = 60.0,
        authority: str | None = None,
    ) -> UpstreamResponse:
        """`authority` replaces the Host header (the relay keeps the client's)."""
        key = (scheme, host, port)
        if authority is None:
            default_port = 443 if scheme == "https" else 80
            bracketed = f"[{host}]" if ":" in host else host
            authority = bracketed if port == default_port else f"{bracketed}:{port}"
        head = _request_head(method, target, authority, headers, chunked)
        deadline = time.monotonic() + header_deadline
        conn, reused = await self._acquire(key, connect_timeout)
        try:
            return await self._exchange(
                key, conn, head, body, chunked, method, read_timeout, deadline
            )
        except UpstreamFailure as failure:
            conn.abort()
            # A pooled connection the upstream closed meanwhile: retry once on a fresh one,
            # which is only safe when no request body was consumed.
            if reused and body is None and failure.kind == "stale":
                conn = await self._connect(key, connect_timeout)
                try:
                    return await self._exchange(
                        key, conn, head, None, chunked, method, read_timeout, deadline
                    )
                except UpstreamFailure as second:
                    conn.abort()
                    # A fresh connection closed before any answer is a reset, not a stale one.
                    if second.kind == "stale":
                        raise UpstreamFailure("reset", str(second)) from None
                    raise
                except BaseException:
                    conn.abort()
                    raise
            if failure.kind == "stale":
                raise UpstreamFailure("reset", str(failure)) from None
            raise
        except BaseException:
            conn.abort()
            raise

    async def _exchange(self, key, conn, head, body, chunked, method, read_timeout, deadline):
        conn.begin(method)
        conn.write(head)
        if body is not None:
            async for chunk in body:
                if not chunk:
                    continue
                conn.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                await conn.drain(read_timeout)
            if chunked:
                conn.write(b"0\r\n\r\n")
        await conn.wait_head(deadline, read_timeout)
        return UpstreamResponse(self, key, conn, read_timeout)

    async def _acquire(self, key: tuple, connect_timeout: float) -> tuple[_Connection, bool]:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn, True
        return await self._connect(key, connect_timeout), False

    async def _connect(self, key: tuple, connect_timeout: float) -> _Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout):
                address = await self._resolve(loop, host, port)
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop),
                    address,
                    port,
                    ssl=self._tls if scheme == "https" else None,
                    server_hostname=host if scheme == "https" else None,
                )
        except TimeoutError:
            raise UpstreamFailure(
                "connect_timeout", "Connecting to the upstream timed out."
            ) from None
        except UpstreamFailure:
            raise
        except (OSError, ssl.SSLError) as exc:
            raise UpstreamFailure("refused", f"Cannot connect to the upstream: {exc}") from None
        sock = conn.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    async def _resolve(self, loop, host: str, port: int) -> str:
        """The address to connect to, checked against the outbound policy."""
        if self._refuse_host is not None:
            reason = self._refuse_host(host)
            if reason is not None:
                raise UpstreamFailure("denied", f"{host} is denied: {reason}")
        try:
            ipaddress.ip_address(host)
            addresses = [host]
        except ValueError:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = list(dict.fromkeys(info[4][0] for info in infos))
        if self._refuse_address is not None:
            for address in addresses:
                reason = self._refuse_address(address)
                if reason is not None:
                    raise UpstreamFailure(
                        "denied", f"{host} resolves to a denied address: {reason}"
                    )
        if not addresses:
            raise UpstreamFailure("refused", f"{host} has no address.")
        return addresses[0]

    def _release(self, key: tuple, conn: _Connection) -> None:
        idle = self._idle.get(key)
        if idle is None:
            idle = self._idle[key] = deque()
        if len(idle) < self._max_idle:
            idle.append(conn)
        else:
            conn.abort()

    def close_idle(self) -> None:
        for idle in self._idle.values():
            while idle:
                idle.pop().abort()


def _keep_alive(version: str, headers: list[tuple[bytes, bytes]]) -> bool:
    tokens = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(token.strip().lower() for token in value.split(b","))
    if version == "1.1":
        return b"close" not in tokens
    return b"keep-alive" in tokens


def _request_head(
    method: str, target: str, authority: str, headers: Iterable[tuple[str, str]], chunked: bool
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}"]
    lines += map(": ".join, headers)  # "name: value", without a Python loop
    # One scan over every name and value (never the separators added here).
    if _UNSAFE_HEADER.search("".join(lines)):
        raise UpstreamFailure("protocol", "Refusing to send a header with control characters.")
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
