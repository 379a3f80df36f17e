"""Upstreams that misbehave on purpose, on real loopback sockets: behaviours for a
ScriptedServer (tests/servers.py), and an upstream that streams large bodies."""

import hashlib
import json
import socket
import struct
import time
from urllib.parse import parse_qs, urlsplit

from tests.servers import LoopbackServer, QuietHandler, ScriptedServer, read_request_head


def hang(conn: socket.socket, upstream: ScriptedServer) -> None:
    """Accept, read the request, never answer."""
    read_request_head(conn)
    upstream.stopping.wait(60)


def headers_then_reset(conn: socket.socket, upstream: ScriptedServer) -> None:
    """Send a complete response head promising a body, then reset the connection."""
    read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
    time.sleep(0.1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # SO_LINGER 0: RST instead of FIN


def headers_then_hang(conn: socket.socket, upstream: ScriptedServer) -> None:
    """Send a complete response head promising a body, then go silent."""
    read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
    upstream.stopping.wait(60)


def drip(conn: socket.socket, upstream: ScriptedServer) -> None:
    """Answer one byte per second: each read is quick, the response never completes in time."""
    read_request_head(conn)
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
    for byte in response:
        if upstream.stopping.wait(1.0):
            return
        conn.sendall(bytes([byte]))


def drip_json_head(conn: socket.socket, upstream: ScriptedServer) -> None:
    """Answer a JSON 200 one byte every half second: a response head that never ends in time."""
    read_request_head(conn)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}":
        if upstream.stopping.wait(0.5):
            return
        conn.sendall(bytes([byte]))


class _StreamingHandler(QuietHandler):
    """POST: hash the body as it streams in. GET ?size=N: stream N bytes out."""

    def do_POST(self) -> None:
        upstream: StreamingUpstream = self.server.owner
        upstream.count_hit()
        upstream.last_headers = {k.lower(): v for k, v in self.headers.items()}
        digest, size = hashlib.sha256(), 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                chunk_size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if chunk_size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                remaining = chunk_size
                while remaining:
                    data = self.rfile.read(min(remaining, 65536))
                    digest.update(data)
                    size += len(data)
                    remaining -= len(data)
                self.rfile.readline()
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                data = self.rfile.read(min(remaining, 65536))
                if not data:
                    break
                digest.update(data)
                size += len(data)
                remaining -= len(data)
        body = json.dumps({"bytes": size, "sha256": digest.hexdigest()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        upstream: StreamingUpstream = self.server.owner
        upstream.count_hit()
        upstream.last_headers = {k.lower(): v for k, v in self.headers.items()}
        query = parse_qs(urlsplit(self.path).query)
        size = int(query.get("size", ["0"])[0])
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        for name, value in upstream.extra_headers:
            self.send_header(name, value)
        self.end_headers()
        block = pattern_block()
        while size:
            piece = block[: min(size, len(block))]
            self.wfile.write(piece)
            size -= len(piece)


def pattern_block() -> bytes:
    return bytes(range(256)) * 256  # 64 KiB, not all zeros


class StreamingUpstream(LoopbackServer):
    """Hashes request bodies as they stream in and streams out bodies of any size."""

    def __init__(self):
        self.last_headers: dict[str, str] = {}
        self.extra_headers: list[tuple[str, str]] = []
        super().__init__(_StreamingHandler)
