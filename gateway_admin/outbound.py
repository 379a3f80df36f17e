"""urllib3 connections whose response head has a deadline, for every outbound call.

urllib3's read timeout bounds each socket read, not the response (requests#4276):
a peer that drips its status line and headers a byte at a time never trips it
and holds a worker - or the single-flight JWKS refresh everyone waits on -
forever. These connections give the whole response head (status line and
headers) one deadline of `read timeout` seconds, counted from the moment the
request has been sent. After the head each body read keeps the plain per-read
timeout, so a long download still streams.

authservers.http (issuers) builds its pool from POOL_CLASSES; upstream calls use
proxy/upstream.py, which enforces the same head deadline itself.
"""

import contextlib
import functools
import http.client
import io
import socket
import time

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class _HeadDeadlineSocketIO(socket.SocketIO):
    """A socket reader that refuses to wait past the head deadline."""

    def __init__(self, sock: socket.socket, deadline: float, read_timeout: float):
        super().__init__(sock, "rb")
        self.deadline: float | None = deadline
        self.read_timeout = read_timeout

    def readinto(self, buffer) -> int | None:
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                # A socket timeout, so urllib3 reports it as ReadTimeoutError.
                raise TimeoutError("the response head did not arrive in time")
            self._sock.settimeout(min(remaining, self.read_timeout))
        return super().readinto(buffer)


class _HeadDeadlineSocket:
    """What http.client.HTTPResponse calls makefile() on."""

    def __init__(self, sock: socket.socket, deadline: float):
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "rb", *args, **kwargs) -> io.BufferedReader:
        raw = _HeadDeadlineSocketIO(self._sock, self._deadline, self._sock.gettimeout())
        self._sock._io_refs += 1  # as socket.makefile() does; SocketIO.close() gives it back
        return io.BufferedReader(raw, io.DEFAULT_BUFFER_SIZE)


class _HeadDeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock, *args, deadline: float, **kwargs):
        self._plain_sock = sock
        self._read_timeout = sock.gettimeout() if isinstance(sock, socket.socket) else None
        if isinstance(sock, socket.socket) and self._read_timeout:
            sock = _HeadDeadlineSocket(sock, deadline)
        super().__init__(sock, *args, **kwargs)

    def begin(self) -> None:
        super().begin()
        raw = getattr(self.fp, "raw", None)  # fp is None once a bodiless response closed it
        if isinstance(raw, _HeadDeadlineSocketIO):
            raw.deadline = None
            with contextlib.suppress(OSError):  # the socket may already be closed
                self._plain_sock.settimeout(self._read_timeout)


class _HeadDeadlineMixin:
    def getresponse(self):
        # urllib3 has just set self.timeout to the read timeout of this request.
        timeout = self.timeout
        if isinstance(timeout, int | float) and timeout > 0:
            deadline = time.monotonic() + timeout
            self.response_class = functools.partial(_HeadDeadlineResponse, deadline=deadline)
        else:
            self.response_class = http.client.HTTPResponse
        return super().getresponse()


class HeadDeadlineHTTPConnection(_HeadDeadlineMixin, HTTPConnection):
    pass


class HeadDeadlineHTTPSConnection(_HeadDeadlineMixin, HTTPSConnection):
    pass


class HeadDeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = HeadDeadlineHTTPConnection


class HeadDeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = HeadDeadlineHTTPSConnection


POOL_CLASSES = {"http": HeadDeadlineHTTPPool, "https": HeadDeadlineHTTPSPool}


def pool_manager(**kwargs) -> urllib3.PoolManager:
    manager = urllib3.PoolManager(**kwargs)
    manager.pool_classes_by_scheme = POOL_CLASSES
    return manager
