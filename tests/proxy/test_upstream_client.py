"""The asynchronous upstream client against scripted raw-socket servers.

A small synchronous facade drives the client on its own event loop, so each test
reads as the exchange it scripts.
"""

import asyncio
import socket
import time

import pytest

from proxy.upstream import UpstreamClient, UpstreamFailure
from tests.servers import ScriptedServer


class SyncResponse:
    def __init__(self, loop, response):
        self._loop, self._response = loop, response
        self.status, self.headers = response.status, response.headers

    def stream(self):
        while (chunk := self._loop.run_until_complete(self._response.next_chunk())) is not None:
            yield chunk

    def close(self) -> None:
        self._response.close()


class SyncClient:
    def __init__(self, max_idle_per_origin: int):
        self.loop = asyncio.new_event_loop()
        self.client = UpstreamClient(max_idle_per_origin=max_idle_per_origin)

    def request(self, scheme, host, port, method, target, headers, body=None, **kwargs):
        if body is not None:
            body = _async_iter(body)
        coroutine = self.client.request(
            scheme, host, port, method, target, headers, body=body, **kwargs
        )
        return SyncResponse(self.loop, self.loop.run_until_complete(coroutine))

    def close_idle(self) -> None:
        self.client.close_idle()
        self.loop.run_until_complete(asyncio.sleep(0.01))
        self.loop.close()


async def _async_iter(chunks):
    for chunk in chunks:
        yield chunk


class RequestServer(ScriptedServer):
    """Reads whole requests off each connection; `respond(conn, request_bytes)` decides what
    each gets, "close" ending the connection."""

    def __init__(self, respond):
        self.requests: list[bytes] = []
        self.respond = respond
        super().__init__(self._handle)

    def _handle(self, conn: socket.socket, _server) -> None:
        buffer = b""
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while b"\r\n\r\n" in buffer:
                    head, _, rest = buffer.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    if b"transfer-encoding: chunked" in head.lower():
                        if b"0\r\n\r\n" not in rest:
                            break
                        body, _, buffer = rest.partition(b"0\r\n\r\n")
                        self.requests.append(head + b"\r\n\r\n" + body)
                    else:
                        if len(rest) < length:
                            break
                        self.requests.append(head + b"\r\n\r\n" + rest[:length])
                        buffer = rest[length:]
                    if self.respond(conn, self.requests[-1]) == "close":
                        return


def ok(conn, request) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Up: 1\r\n\r\nhello")


@pytest.fixture
def client():
    client = SyncClient(max_idle_per_origin=4)
    yield client
    client.close_idle()


def fetch(client, server, method="GET", **kwargs) -> tuple[int, list, bytes]:
    kwargs.setdefault("read_timeout", 2)
    kwargs.setdefault("header_deadline", 3)
    response = client.request("http", "127.0.0.1", server.port, method, "/x", [], **kwargs)
    try:
        body = b"".join(response.stream())
    finally:
        response.close()
    return response.status, response.headers, body


def test_it_reuses_one_keep_alive_connection(client):
    server = RequestServer(ok)
    for _ in range(20):
        status, headers, body = fetch(client, server)
        assert (status, body) == (200, b"hello")
        assert ("X-Up", "1") in headers
    assert server.accepted == 1
    server.stop()


def test_it_sends_host_and_headers_exactly(client):
    server = RequestServer(ok)
    client.request("http", "127.0.0.1", server.port, "GET", "/a?b=1", [("X-One", "1")]).close()
    time.sleep(0.1)
    assert server.requests[0].startswith(
        f"GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-One: 1\r\n".encode()
    )
    server.stop()


def test_a_connection_closed_by_the_upstream_is_replaced_transparently(client):
    def close_after(conn, request):
        ok(conn, request)
        return "close"

    server = RequestServer(close_after)
    for _ in range(5):
        assert fetch(client, server)[0] == 200
    assert server.accepted == 5
    server.stop()


def test_a_fresh_connection_closed_unanswered_after_a_stale_one_is_a_reset(client):
    """A target dying between calls: the pooled connection is stale, the fresh one is
    accepted and dropped. That must surface as `reset` (a balancer may retry it elsewhere),
    never as the internal `stale`."""
    answered = []

    def answer_once(conn, request):
        if answered:
            return "close"  # the pooled connection, then the fresh one: hung up unanswered
        answered.append(True)
        ok(conn, request)

    server = RequestServer(answer_once)
    assert fetch(client, server)[0] == 200
    with pytest.raises(UpstreamFailure) as failure:
        fetch(client, server)
    assert failure.value.kind == "reset"
    assert server.accepted == 2
    server.stop()


def test_it_decodes_a_chunked_response(client):
    def chunked(conn, request):
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
        )

    server = RequestServer(chunked)
    assert fetch(client, server)[2] == b"abcdefg"
    assert fetch(client, server)[2] == b"abcdefg"
    assert server.accepted == 1
    server.stop()


def test_a_body_delimited_by_close_is_read_to_the_end(client):
    def until_close(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        return "close"

    server = RequestServer(until_close)
    assert fetch(client, server)[2] == b"all of it"
    server.stop()


def test_head_and_204_have_no_body(client):
    def head(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")

    server = RequestServer(head)
    assert fetch(client, server, "HEAD") == (200, [("Content-Length", "100")], b"")
    server.stop()


def test_an_interim_100_continue_is_skipped(client):
    def cont(conn, request):
        conn.sendall(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
        )

    server = RequestServer(cont)
    assert fetch(client, server)[::2] == (201, b"ok")
    server.stop()


def test_request_bodies_are_sent_with_length_or_chunked(client):
    server = RequestServer(ok)
    client.request(
        "http", "127.0.0.1", server.port, "POST", "/x", [("Content-Length", "6")], [b"abc", b"def"]
    ).close()
    fetch(client, server, "POST", body=iter([b"ghi", b"", b"jk"]), chunked=True)
    time.sleep(0.1)
    assert server.requests[0].endswith(b"\r\n\r\nabcdef")
    assert b"Transfer-Encoding: chunked" in server.requests[1]
    assert server.requests[1].endswith(b"3\r\nghi\r\n2\r\njk\r\n")
    server.stop()


def test_a_refused_connection_fails_as_refused(client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UpstreamFailure) as caught:
        client.request("http", "127.0.0.1", port, "GET", "/", [])
    assert caught.value.kind == "refused"


def test_a_dripping_upstream_hits_the_header_deadline(client):
    def drip(conn, request):
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return "close"
            time.sleep(0.2)

    server = RequestServer(drip)
    started = time.monotonic()
    with pytest.raises(UpstreamFailure) as caught:
        fetch(client, server, read_timeout=1, header_deadline=1)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 2
    server.stop()


def test_headers_then_reset_fails_the_body(client):
    def reset(conn, request):
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        return "close"

    server = RequestServer(reset)
    response = client.request("http", "127.0.0.1", server.port, "GET", "/", [], read_timeout=2)
    with pytest.raises(UpstreamFailure) as caught:
        b"".join(response.stream())
    response.close()
    assert caught.value.kind == "reset"
    server.stop()


def test_a_garbage_response_is_a_protocol_failure(client):
    def garbage(conn, request):
        conn.sendall(b"SMTP ready\r\n\r\n")
        return "close"

    server = RequestServer(garbage)
    with pytest.raises(UpstreamFailure) as caught:
        fetch(client, server)
    assert caught.value.kind == "protocol"
    server.stop()


@pytest.mark.parametrize("value", ["a\r\nX-Admin: 1", "a\nb", "a\x00"])
def test_header_values_with_control_characters_are_never_sent(client, value):
    server = RequestServer(ok)
    with pytest.raises(UpstreamFailure):
        client.request("http", "127.0.0.1", server.port, "GET", "/", [("X-Claim", value)])
    assert server.requests == []
    server.stop()
