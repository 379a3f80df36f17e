"""urllib3 connections whose response head has a deadline, for every outbound call.

urllib3's read timeout bounds each socket read, not the response (requests#4276):
a peer that drips its status line and headers a byte at a time never trips it
and holds a worker - or the single-flight JWKS refresh everyone waits on -
forever. These connections give the whole response head (status line and
headers) one deadline of `read timeout` seconds, counted from the moment the
request has been sent. After the head each body read keeps the plain per-read
timeout, so a long download still streams.

They also open the socket themselves, under the outbound policy
(core.outbound_policy): the host name is checked, resolved once, every
address DNS returns is checked, and the socket connects to one of exactly those
checked addresses. A name that resolves to a denied address - a rebinding DNS
answer included - raises DestinationRefused before any connection is attempted;
TLS still verifies the certificate against the host name.

authservers.http (issuers) builds its pool from POOL_CLASSES; upstream calls use
proxy/upstream.py, which enforces the same head deadline itself.
"""

import contextlib
import functools
import http.client
import io
import socket
import sys
import time

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from core.outbound_policy import refusal_for_address, refusal_for_host

# Module-level so a test can fake a DNS answer for this module only.
_getaddrinfo = socket.getaddrinfo


class DestinationRefused(Exception):
    """The outbound policy refuses the destination; nothing was sent.

    str() names the host only (safe for an admin); `reason` adds the address, for the log.
    """

    def __init__(self, host: str, reason: str):
        super().__init__(f"{host} resolves to an address the outbound policy denies")
        self.host = host
        self.reason = reason


def checked_addresses(host: str, port: int, family: int = socket.AF_UNSPEC) -> list[tuple]:
    """getaddrinfo() answers for host:port, after the policy allowed the name and *every* address.

    One denied address refuses the whole name: a rebinding answer mixes a harmless
    address with the target. Raises DestinationRefused, or socket.gaierror.
    """
    host = host.strip("[]")
    reason = refusal_for_host(host)
    if reason is not None:
        raise DestinationRefused(host, reason)
    infos = _getaddrinfo(host, port, family, socket.SOCK_STREAM)
    for info in infos:
        reason = refusal_for_address(info[4][0])
        if reason is not None:
            raise DestinationRefused(host, f"{host} resolves to {info[4][0]}: {reason}")
    return infos


def _open_socket(info: tuple, timeout, source_address, socket_options) -> socket.socket:
    """Connect to one checked getaddrinfo() answer (as urllib3's create_connection does)."""
    family, kind, proto, _, address = info
    sock = socket.socket(family, kind, proto)
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
        if timeout is not _DEFAULT_TIMEOUT:
            sock.settimeout(timeout)
        if source_address:
            sock.bind(source_address)
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


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


class _CheckedConnectMixin:
    """urllib3's _new_conn(), connecting only to addresses the outbound policy allows."""

    def _new_conn(self) -> socket.socket:
        try:
            infos = checked_addresses(self._dns_host, self.port, allowed_gai_family())
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error: OSError | None = None
        for info in infos:  # in resolver order, like urllib3's create_connection()
            try:
                sock = _open_socket(info, self.timeout, self.source_address, self.socket_options)
            except OSError as exc:
                error = exc
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        if isinstance(error, TimeoutError):
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from error
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}") from error


class HeadDeadlineHTTPConnection(_CheckedConnectMixin, _HeadDeadlineMixin, HTTPConnection):
    pass


class HeadDeadlineHTTPSConnection(_CheckedConnectMixin, _HeadDeadlineMixin, HTTPSConnection):
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
