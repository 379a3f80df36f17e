"""Slow and idle clients cost a socket, not a worker (the data plane under manage.py serve)."""

import socket
import time

import pytest
import requests

from tests.production import raw_exchange

PATH = "/gateway/petstore/v1/pets"


def timed_get(url: str, **kwargs) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(url, timeout=10, **kwargs)
    return response, time.monotonic() - started


@pytest.mark.serial
def test_five_hundred_slow_header_connections_delay_nothing(published, production_gateway):
    gateway = production_gateway()  # one data-plane worker holds them all
    token = published.token()
    slow = []
    try:
        for _ in range(500):
            sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=5)
            sock.sendall(f"GET {PATH} HTTP/1.1\r\nHost: gateway.test\r\n".encode())
            slow.append(sock)
        for sock in slow:
            sock.sendall(b"X-Dribble: 1\r\n")  # one more header line each, never the end
        health, health_seconds = timed_get(gateway.url + "/healthz")
        proxied, proxied_seconds = timed_get(
            gateway.url + PATH, headers={"Authorization": f"Bearer {token}"}
        )
    finally:
        for sock in slow:
            sock.close()
    assert health.status_code == 200 and health_seconds < 1, health_seconds
    assert proxied.status_code == 200 and proxied_seconds < 1, proxied_seconds
    assert published.upstream.hits == 1


def test_a_client_that_never_finishes_its_head_gets_a_408_and_is_closed(
    published, production_gateway
):
    gateway = production_gateway(env={"GATEWAY_CLIENT_HEADER_TIMEOUT": "1"})
    started = time.monotonic()
    response, closed = raw_exchange(
        gateway.port, f"GET {PATH} HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n".encode(), timeout=5
    )
    assert closed
    assert response.startswith(b"HTTP/1.1 408 ")
    assert b"request_timeout" in response
    assert time.monotonic() - started < 3
    # An idle connection (no byte at all) is closed too.
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as idle:
        idle.settimeout(5)
        assert idle.recv(1024).startswith(b"HTTP/1.1 408 ")
        assert idle.recv(1024) == b""
    assert published.upstream.hits == 0


def test_a_client_that_stops_sending_its_body_gets_a_408(published, production_gateway):
    gateway = production_gateway(env={"GATEWAY_CLIENT_BODY_TIMEOUT": "1"})
    token = published.token(scope="pets:write")
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    )
    started = time.monotonic()
    response, closed = raw_exchange(gateway.port, head.encode() + b'{"name":', timeout=6)
    assert response.startswith(b"HTTP/1.1 408 "), response[:200]
    assert closed
    assert time.monotonic() - started < 4
    # The upstream never received the body as complete.
    assert all(len(request["body"]) < 100 for request in published.upstream.requests)


def test_connections_beyond_the_cap_get_a_clear_503(published, production_gateway):
    gateway = production_gateway(env={"GATEWAY_MAX_CONNECTIONS": "20"})
    held = [socket.create_connection(("127.0.0.1", gateway.port), timeout=5) for _ in range(20)]
    try:
        time.sleep(0.3)
        response, closed = raw_exchange(gateway.port, b"", timeout=5)
        assert response.startswith(b"HTTP/1.1 503 "), response[:200]
        assert b"too_many_connections" in response
        assert closed
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    assert requests.get(gateway.url + "/healthz", timeout=5).status_code == 200
