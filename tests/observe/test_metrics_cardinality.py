"""Hostile input never becomes a label: a flood of distinct unknown paths, methods, tokens
and header values adds no series beyond the few the config itself allows."""

import contextlib
import secrets
import socket

import requests

from tests.observe.helpers import local_samples


def _raw(port: int, request: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        with contextlib.suppress(OSError):
            sock.recv(65536)


def test_a_flood_of_distinct_paths_tokens_and_headers_creates_no_series(published):
    session = requests.Session()
    token = published.token()
    # Every kind of outcome once, so the series they need exist before the flood.
    session.get(published.url + "/pets", headers={"Authorization": f"Bearer {token}"})
    session.get(published.url + "/pets")
    session.get(published.url + "/nothing-here")
    session.get(published.url + "/pets", headers={"Authorization": "Bearer x.y.z"})
    session.get(f"{published.gateway.url}/gateway/nowhere")
    before = local_samples()
    markers = []
    for index in range(150):
        marker = f"zz{secrets.token_hex(6)}"
        markers.append(marker)
        headers = {
            "Authorization": f"Bearer {marker}.{marker}.{marker}",
            "X-Request-Id": f"{marker}\x85{index}\xff".encode("latin-1"),
            "Traceparent": f"00-{marker}-{marker}-01",
            "User-Agent": marker,
        }
        session.get(f"{published.url}/{marker}/{index}", headers=headers)
        session.get(f"{published.url}/pets?{marker}=1", headers=headers)
        session.get(f"{published.gateway.url}/gateway/{marker}", headers=headers)
        session.request("PURGE", f"{published.url}/pets/{marker}", headers=headers)
    for index in range(20):
        marker = f"zz{secrets.token_hex(6)}"
        markers.append(marker)
        # Methods outside HTTP's registry never reach the application (llhttp refuses them).
        _raw(
            published.gateway.port,
            f"{marker.upper()} /gateway/x HTTP/1.1\r\nHost: a\r\n\r\n".encode(),
        )
    after = local_samples()

    new = set(after) - set(before)
    print(f"cardinality: {len(before)} series before, {len(after)} after 620 hostile calls")
    # At most: the PURGE route-less 405s and route-matched 404s for Petstore.
    assert len(new) <= 12, sorted(new)
    for name, labels in after:
        for label, text in labels:
            assert "zz" not in text, (name, label, text)
    # Every label value of the series this flood made is one the config or the vocabulary
    # defines (series of earlier tests in this process may name their own APIs).
    apis = {"Petstore v1", "-"}
    for name, labels in new:
        found = dict(labels)
        if "api" in found:
            assert found["api"] in apis, found
        if "application" in found:
            assert found["application"] in {"Petstore client", "-"}, found
        if "route" in found:
            assert found["route"] in {
                "-",
                "GET /pets",
                "GET /pets/{id}",
                "POST /pets",
                "ANY /files/{path+}",
                "GET /health",
            }, found
