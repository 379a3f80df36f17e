"""What the upstream receives, and how upstream failures reach the client."""

import socket

import requests

from apis.models import Api
from tests.faults.upstreams import hang
from tests.servers import ScriptedServer


def test_the_upstream_receives_method_path_query_and_body(published):
    token = published.token()
    response = requests.post(
        published.url + "/pets?dry=1&tag=a%20b",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=b'{"name": "Rex"}',
        timeout=5,
    )
    assert response.status_code == 200, response.text
    seen = published.upstream.last
    assert seen["method"] == "POST"
    assert seen["path"] == "/backend/pets?dry=1&tag=a%20b"
    assert seen["body"] == b'{"name": "Rex"}'
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["content-length"] == "15"


def test_a_chunked_body_is_streamed_to_the_upstream_re_chunked(published):
    def body():
        yield b"part-one,"
        yield b"part-two"

    response = requests.post(
        published.url + "/pets",
        headers={"Authorization": f"Bearer {published.token(scope='pets:write')}"},
        data=body(),
        timeout=5,
    )
    assert response.status_code == 200, response.text
    received = published.upstream.last
    assert received["body"] == b"part-one,part-two"
    assert received["headers"]["transfer-encoding"] == "chunked"
    assert "content-length" not in received["headers"]


def test_the_greedy_path_is_forwarded_segment_by_segment(published):
    response = published.get("/files/docs/a%20b/readme.md", published.token())
    assert response.status_code == 200
    assert published.upstream.last["path"] == "/backend/files/docs/a%20b/readme.md"


def test_client_forged_gateway_headers_never_reach_the_upstream(published):
    response = published.get(
        "/pets",
        published.token(),
        headers={
            "X-Gateway-Application": "admin",
            "X-Gateway-Subject": "root",
            "Connection": "X-Gateway-Application",
        },
    )
    assert response.status_code == 200
    headers = published.upstream.last["header_list"]
    application_values = [v for k, v in headers if k.lower() == "x-gateway-application"]
    subject_values = [v for k, v in headers if k.lower() == "x-gateway-subject"]
    assert application_values == ["Petstore client"]
    assert subject_values == ["user-42"]


def test_hop_by_hop_headers_are_dropped_both_ways(published):
    published.upstream.extra_headers = [
        ("Keep-Alive", "timeout=5"),
        ("X-Secret-Hop", "1"),
        ("Connection", "X-Secret-Hop"),
    ]
    response = published.get(
        "/pets",
        published.token(),
        headers={
            "X-Drop-Me": "1",
            "Connection": "X-Drop-Me",
            "Keep-Alive": "timeout=1",
            "TE": "trailers",
            "Proxy-Authorization": "Basic eA==",
        },
    )
    assert response.status_code == 200
    seen = published.upstream.last["headers"]
    for name in ("x-drop-me", "keep-alive", "te", "proxy-authorization"):
        assert name not in seen
    assert seen["via"].startswith("1.1 gatekeep-")  # this deployment's pseudonym (loop guard)
    assert "X-Secret-Hop" not in response.headers
    assert "Keep-Alive" not in response.headers


def test_forwarded_for_is_replaced_unless_the_client_is_a_trusted_proxy(published):
    response = published.get("/pets", published.token(), headers={"X-Forwarded-For": "6.6.6.6"})
    assert response.status_code == 200
    assert published.upstream.last["headers"]["x-forwarded-for"] == "127.0.0.1"


def test_a_claim_with_crlf_is_encoded_not_injected(published):
    token = published.token(email="a@example.com\r\nX-Admin: 1")
    response = published.get("/pets", token)
    assert response.status_code == 200
    seen = published.upstream.last["headers"]
    assert "x-admin" not in seen
    assert seen["x-user-email"] == "a@example.com%0D%0AX-Admin: 1"


def test_an_upstream_error_status_passes_through(published):
    published.upstream.status = 503
    response = published.get("/pets", published.token())
    assert response.status_code == 503
    assert response.json()["ok"] is True


def test_a_refused_upstream_is_502(published):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    Api.objects.filter(pk=published.api.pk).update(upstream_url=f"http://127.0.0.1:{closed_port}")
    published.api.refresh_from_db()
    published.api.save()
    published.gateway_wait_for_reload()
    response = published.get("/pets", published.token())
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_unavailable"


def test_a_slow_upstream_is_504_and_the_gateway_keeps_serving(published):
    published.upstream.delay = 5.0  # read timeout of the API is 4 s
    response = published.get("/pets", published.token())
    assert response.status_code == 504
    assert response.json()["code"] == "upstream_timeout"
    published.upstream.delay = 0
    assert published.get("/pets", published.token()).status_code == 200


def test_an_upstream_that_hangs_after_accepting_is_504(published):
    silent = ScriptedServer(hang)
    Api.objects.filter(pk=published.api.pk).update(upstream_url=silent.url)
    published.api.refresh_from_db()
    published.api.save()
    published.gateway_wait_for_reload()
    try:
        response = published.get("/pets", published.token())
        assert response.status_code == 504
    finally:
        silent.stop()
