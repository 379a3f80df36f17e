"""A small pipelined Redis client for the event loop: one connection per worker, every
call written at once and answered in order.

The rate-limit script costs one round trip per call; redis-py's asyncio client added
about five times the round trip itself on top (connection checkout, command packing and
its generic parser; bench/README.md, Traffic limits), so the data plane speaks RESP
itself. Replies are matched to calls first in, first out, as Redis answers a connection's
commands in order. A call that times out closes the connection: every later reply on it
would be misattributed. Only what the counters need: integers, strings, arrays, errors.
"""

import asyncio
import collections
import ssl
from urllib.parse import unquote, urlsplit


class RedisReplyError(Exception):
    """Redis answered with an error (e.g. NOSCRIPT)."""


class RedisUnavailable(ConnectionError):
    """No connection, a lost one, or no answer within the timeout."""


def encode(args) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


_INCOMPLETE = object()


def parse(buffer: bytes, start: int):
    """(value, next position), or (_INCOMPLETE, start) when the reply is not all there."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        return _INCOMPLETE, start
    kind, line = buffer[start : start + 1], buffer[start + 1 : end]
    position = end + 2
    if kind == b":":
        return int(line), position
    if kind == b"+":
        return line.decode(), position
    if kind == b"-":
        return RedisReplyError(line.decode(errors="replace")), position
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, position
        if len(buffer) < position + size + 2:
            return _INCOMPLETE, start
        return buffer[position : position + size], position + size + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, position
        items = []
        for _ in range(count):
            item, position = parse(buffer, position)
            if item is _INCOMPLETE:
                return _INCOMPLETE, start
            items.append(item)
        return items, position
    raise RedisUnavailable(f"unexpected reply type {kind!r}")


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending: collections.deque[asyncio.Future] = collections.deque()
        self.buffer = b""
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        position = 0
        try:
            while self.pending:
                value, position = parse(self.buffer, position)
                if value is _INCOMPLETE:
                    break
                future = self.pending.popleft()
                if not future.done():
                    future.set_result(value)
        except (ValueError, RedisUnavailable):
            self.fail(RedisUnavailable("unreadable reply"))
            return
        self.buffer = self.buffer[position:]

    def connection_lost(self, exc) -> None:
        self.fail(RedisUnavailable(f"connection lost: {exc or 'closed by Redis'}"))

    def fail(self, error: Exception) -> None:
        self.closed = True
        while self.pending:
            future = self.pending.popleft()
            if not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.close()


class RedisPipe:
    """One pipelined connection to the Redis of a redis:// or rediss:// URL."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.tls = parts.scheme == "rediss"
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        path = parts.path.strip("/")
        self.database = int(path) if path.isdigit() else 0
        self.timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future | None = None

    async def _connection(self) -> _Protocol:
        protocol = self._protocol
        if protocol is not None and not protocol.closed:
            return protocol
        if self._connecting is not None:  # another call is connecting: share it
            return await asyncio.shield(self._connecting)
        loop = asyncio.get_running_loop()
        connecting = self._connecting = loop.create_future()
        try:
            protocol = await asyncio.wait_for(self._connect(loop), self.timeout)
        except (TimeoutError, OSError, RedisReplyError) as error:
            raise RedisUnavailable(
                f"cannot connect to Redis: {error or type(error).__name__}"
            ) from None
        finally:
            self._connecting = None
            if not connecting.done():
                # Waiters share the outcome: the connection, or why there is none (also
                # when this call was cancelled half-way).
                failure = RedisUnavailable("cannot connect to Redis")
                if protocol is not None and not protocol.closed:
                    connecting.set_result(protocol)
                else:
                    connecting.set_exception(failure)
                    connecting.exception()  # retrieved: no "never retrieved" warning
        self._protocol = protocol
        return protocol

    async def _connect(self, loop) -> _Protocol:
        context = ssl.create_default_context() if self.tls else None
        _, protocol = await loop.create_connection(
            _Protocol,
            self.host,
            self.port,
            ssl=context,
            server_hostname=self.host if context else None,
        )
        setup = []
        if self.password is not None:
            setup.append(
                ("AUTH", self.username, self.password) if self.username else ("AUTH", self.password)
            )
        if self.database:
            setup.append(("SELECT", self.database))
        for command in setup:
            reply = await self._send(protocol, command, loop)
            if isinstance(reply, RedisReplyError):
                protocol.fail(RedisUnavailable(str(reply)))
                raise reply
        return protocol

    @staticmethod
    def _send(protocol: _Protocol, args, loop) -> asyncio.Future:
        future = loop.create_future()
        protocol.pending.append(future)
        protocol.transport.write(encode(args))
        return future

    async def call(self, *args):
        """The reply to one command (a RedisReplyError value for an error reply)."""
        protocol = await self._connection()
        loop = asyncio.get_running_loop()
        future = self._send(protocol, args, loop)
        timer = loop.call_later(self.timeout, _expire, protocol, future)
        try:
            return await future
        finally:
            timer.cancel()

    def close(self) -> None:
        if self._protocol is not None:
            self._protocol.fail(RedisUnavailable("closed"))
            self._protocol = None


def _expire(protocol: _Protocol, future: asyncio.Future) -> None:
    if not future.done():
        protocol.fail(RedisUnavailable("no answer from Redis in time"))
