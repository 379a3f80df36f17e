"""Upstream faults under the production server (docs/security.md, Fault behaviour): gunicorn,
real sockets."""

import hashlib
import threading
import time

import pytest
import requests

from tests.faults.upstreams import (
    StreamingUpstream,
    drip,
    hang,
    headers_then_hang,
    headers_then_reset,
    pattern_block,
)
from tests.production import add_api, free_port
from tests.servers import ScriptedServer

MB = 1024 * 1024


@pytest.fixture
def streaming_upstream():
    upstream = StreamingUpstream()
    yield upstream
    upstream.stop()


def call(gateway, base_path: str, token: str, path: str = "/anything", **kwargs):
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    method = kwargs.pop("method", "GET")
    return requests.request(
        method, f"{gateway.url}/gateway{base_path}{path}", headers=headers, timeout=30, **kwargs
    )


@pytest.mark.parametrize(
    ("behaviour", "status", "code", "max_seconds"),
    [
        ("closed", 502, "upstream_unavailable", 3),
        (hang, 504, "upstream_timeout", 2 + 3),
        (headers_then_reset, 502, "upstream_unavailable", 3),
        # The status is held back until the first body bytes arrive, so this is still a 504.
        (headers_then_hang, 504, "upstream_timeout", 2 + 3),
        # 1 byte/s: every read succeeds within the read timeout, so only the deadline on
        # the whole response head (read_timeout = 2 s) stops it.
        (drip, 504, "upstream_timeout", 2 + 3),
    ],
    ids=[
        "closed-port",
        "accept-and-hang",
        "headers-then-reset",
        "headers-then-hang",
        "one-byte-per-second",
    ],
)
def test_upstream_failures_are_502_or_504_under_gunicorn(
    published, production_gateway, behaviour, status, code, max_seconds
):
    scripted = None if behaviour == "closed" else ScriptedServer(behaviour)
    try:
        upstream_url = scripted.url if scripted else f"http://127.0.0.1:{free_port()}"
        add_api(published, "/faulty/v1", upstream_url, read_timeout=2.0)
        gateway = production_gateway()
        token = published.token()
        started = time.monotonic()
        response = call(gateway, "/faulty/v1", token)
        elapsed = time.monotonic() - started
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == code
        assert elapsed < max_seconds, f"took {elapsed:.1f} s"
        if scripted:
            assert scripted.accepted >= 1
        # The worker is free again: the healthy API still answers.
        assert call(gateway, "/petstore/v1", token, "/pets").status_code == 200
        assert published.upstream.hits == 1
    finally:
        if scripted:
            scripted.stop()


def test_fifty_megabytes_stream_both_ways_in_flat_memory(
    published, production_gateway, streaming_upstream
):
    add_api(published, "/bulk/v1", streaming_upstream.url, read_timeout=30.0)
    gateway = production_gateway()
    token = published.token()
    size = 50 * MB

    # Warm up every code path once, then take the baseline.
    call(gateway, "/bulk/v1", token, "/down", params={"size": MB}).content
    call(gateway, "/bulk/v1", token, "/up", method="POST", data=b"x" * MB)
    baseline = gateway.worker_memory_kb("VmRSS")
    peak_before = gateway.worker_memory_kb("VmHWM")
    sampled = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            sampled.append(gateway.worker_memory_kb("VmRSS"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        upload = call(
            gateway,
            "/bulk/v1",
            token,
            "/up",
            method="POST",
            data=SizedBody(size),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert upload.status_code == 200, upload.text
        assert upload.json() == {"bytes": size, "sha256": SizedBody(size).sha256()}

        download = call(gateway, "/bulk/v1", token, "/down", params={"size": size}, stream=True)
        assert download.status_code == 200
        assert download.headers["Content-Length"] == str(size)
        digest, received = hashlib.sha256(), 0
        for chunk in download.iter_content(256 * 1024):
            digest.update(chunk)
            received += len(chunk)
        assert received == size
        assert digest.hexdigest() == SizedBody(size).sha256()
    finally:
        done.set()
        sampler.join()
    growth_mb = (max(sampled) - baseline) / 1024
    peak_growth_mb = (gateway.worker_memory_kb("VmHWM") - peak_before) / 1024
    assert growth_mb < 30, f"worker RSS grew {growth_mb:.1f} MB"
    assert peak_growth_mb < 30, f"worker peak RSS grew {peak_growth_mb:.1f} MB"


class SizedBody:
    """An upload body of `size` bytes, produced chunk by chunk, with a Content-Length."""

    def __init__(self, size: int):
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        block, remaining = pattern_block(), self.size
        while remaining:
            piece = block[: min(remaining, len(block))]
            remaining -= len(piece)
            yield piece

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for piece in self:
            digest.update(piece)
        return digest.hexdigest()


def test_a_chunked_request_body_is_streamed_under_gunicorn(
    published, production_gateway, streaming_upstream
):
    add_api(published, "/bulk/v1", streaming_upstream.url, read_timeout=30.0)
    gateway = production_gateway()
    body = SizedBody(5 * MB)
    # A generator without a length: requests sends Transfer-Encoding: chunked.
    response = call(gateway, "/bulk/v1", published.token(), "/up", method="POST", data=iter(body))
    assert response.status_code == 200, response.text
    assert response.json() == {"bytes": body.size, "sha256": body.sha256()}
    seen = streaming_upstream.last_headers
    assert seen["transfer-encoding"] == "chunked"  # re-framed by the gateway, not copied
    assert "content-length" not in seen


def test_hop_by_hop_headers_are_dropped_both_ways_under_gunicorn(
    published, production_gateway, streaming_upstream
):
    streaming_upstream.extra_headers = [
        ("Connection", "X-Upstream-Hop, close"),
        ("X-Upstream-Hop", "secret"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Authenticate", "Basic"),
        ("Trailer", "X-Checksum"),
        ("Upgrade", "h2c"),
        ("X-End-To-End", "kept"),
    ]
    add_api(published, "/bulk/v1", streaming_upstream.url)
    gateway = production_gateway()
    response = call(
        gateway,
        "/bulk/v1",
        published.token(),
        "/down",
        params={"size": 10},
        headers={
            "Connection": "X-Client-Hop, X-Gateway-Application",
            "X-Client-Hop": "secret",
            "Keep-Alive": "timeout=1",
            "TE": "trailers",
            "Proxy-Authorization": "Basic eA==",
            "Upgrade": "websocket",
            "X-Client-End-To-End": "kept",
        },
    )
    assert response.status_code == 200
    seen = streaming_upstream.last_headers
    for name in ("x-client-hop", "keep-alive", "te", "proxy-authorization", "upgrade"):
        assert name not in seen, name
    assert seen["x-client-end-to-end"] == "kept"
    assert seen["x-gateway-application"] == "Petstore client"
    assert seen["via"].startswith("1.1 gatekeep-")
    for name in ("X-Upstream-Hop", "Keep-Alive", "Proxy-Authenticate", "Trailer", "Upgrade"):
        assert name not in response.headers, name
    assert response.headers["X-End-To-End"] == "kept"


def test_forwarded_for_is_believed_only_from_trusted_proxies(
    published, production_gateway, streaming_upstream
):
    add_api(published, "/bulk/v1", streaming_upstream.url)
    spoof = {
        "X-Forwarded-For": "6.6.6.6",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
        "Forwarded": "for=6.6.6.6",
        "X-Real-IP": "6.6.6.6",
    }
    untrusted = production_gateway()
    trusted = production_gateway(env={"GATEWAY_TRUSTED_PROXIES": "127.0.0.0/8"})
    token = published.token()

    assert call(untrusted, "/bulk/v1", token, "/down", headers=spoof).status_code == 200
    seen = streaming_upstream.last_headers
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == f"127.0.0.1:{untrusted.port}"
    assert "forwarded" not in seen
    assert "x-real-ip" not in seen

    assert call(trusted, "/bulk/v1", token, "/down", headers=spoof).status_code == 200
    seen = streaming_upstream.last_headers
    assert seen["x-forwarded-for"] == "6.6.6.6, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "https"
    assert seen["x-forwarded-host"] == "evil.example"
    assert "forwarded" not in seen
