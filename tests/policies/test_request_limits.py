"""Request limits: 413, 415 and 431 before the upstream is contacted."""

import socket

import pytest

from policies.models import RequestLimits
from tests.policies.conftest import wait_for_config


@pytest.fixture
def limits(attach):
    return attach(
        RequestLimits,
        max_body_bytes=1000,
        max_header_count=20,
        max_header_bytes=4000,
        allowed_content_types=["application/json", "text/*"],
    )


def post(published, body, content_type="application/json", **headers):
    import requests

    return requests.post(
        published.url + "/pets",
        data=body,
        headers={
            "Authorization": f"Bearer {published.token(scope='pets:write')}",
            "Content-Type": content_type,
            **headers,
        },
        timeout=10,
    )


def test_a_body_within_the_limits_passes(published, limits):
    assert post(published, b"{}" * 10).status_code == 200
    assert post(published, b"hi", "text/plain; charset=utf-8").status_code == 200
    assert published.upstream.hits == 2


def test_a_declared_body_over_the_limit_is_413(published, limits):
    response = post(published, b"x" * 1001)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert published.upstream.hits == 0


def test_a_chunked_body_over_the_limit_is_413_before_the_upstream(published, limits):
    def chunks():
        for _ in range(20):
            yield b"x" * 100

    response = post(published, chunks())
    assert response.status_code == 413
    assert published.upstream.hits == 0


def test_a_body_lying_about_its_length_never_reaches_the_upstream(published, limits):
    """Content-Length says 10, 5,000 bytes follow: the server's strict parser refuses the
    connection's bytes as malformed (400, connection closed); at most the declared 10
    bytes could ever reach the upstream."""
    host, port = "127.0.0.1", published.gateway.port
    token = published.token(scope="pets:write")
    head = (
        f"POST /gateway/petstore/v1/pets HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 10\r\n\r\n"
    ).encode()
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(head + b"{" + b"x" * 5000 + b"}")
        conn.settimeout(5)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    assert b"HTTP/1.1 400" in answer, answer[:300]
    assert b"Connection: close" in answer
    assert all(len(request["body"]) <= 10 for request in published.upstream.requests)
    # The rest was no valid request: nothing else reached the upstream.
    assert published.upstream.hits <= 1


def test_a_content_type_not_allowed_is_415(published, limits):
    response = post(published, b"<a/>", "application/xml")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert post(published, b"{}", "").status_code == 415
    assert published.upstream.hits == 0


def test_too_many_or_too_large_headers_are_431(published, limits):
    many = {f"X-Pad-{n}": "1" for n in range(25)}
    assert published.get(token=published.token(), headers=many).status_code == 431
    big = {"X-Pad": "y" * 3000, "X-Pad-2": "y" * 1500}
    response = published.get(token=published.token(), headers=big)
    assert response.status_code == 431
    assert response.json()["code"] == "request_header_fields_too_large"
    assert published.upstream.hits == 0


def test_soap_apis_refuse_with_a_fault(published, limits):
    from apis.models import Api

    Api.objects.filter(pk=published.api.pk).update(kind="SOAP")
    from core.config_version import bump_config_version

    bump_config_version()
    wait_for_config()
    response = post(published, b"x" * 2000, "text/xml")
    assert response.status_code == 413
    assert b"<faultstring>" in response.content
