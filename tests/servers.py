"""Real loopback servers for tests and bench/: an upstream, an identity provider, the gateway.

Every server of the tests is built from the pieces here: LoopbackServer (a threaded HTTP or
HTTPS server around a handler class), ScriptedServer (raw TCP, a function per connection),
WsgiServer (a WSGI app) and DataPlaneServer (the ASGI data plane on uvicorn).
"""

import contextlib
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from django.core.servers.basehttp import ServerHandler, ThreadedWSGIServer
from django.test.testcases import QuietWSGIRequestHandler

from tests.tokens import certificate_pem, new_ec_key


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:
        pass


class _BigBacklogHTTPServer(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops SYNs under 50 concurrent connects, which
    # then wait a 1 s retransmit: a connect timeout that tests nothing of ours.
    request_queue_size = 128


class _BigBacklogWSGIServer(ThreadedWSGIServer):
    request_queue_size = 128


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 answering with `handler_class`, whose handlers
    reach this object as `self.server.owner`. With `tls` (a certificate and key file, see
    tls_files) it speaks HTTPS."""

    def __init__(self, handler_class, tls: tuple[Path, Path] | None = None):
        self.httpd = _BigBacklogHTTPServer(("127.0.0.1", 0), handler_class)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.hits = 0
        self._lock = threading.Lock()
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def count_hit(self) -> None:
        with self._lock:
            self.hits += 1

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _UpstreamHandler(QuietHandler):
    def _handle(self) -> None:
        server: UpstreamServer = self.server.owner
        server.count_hit()
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(length) if length else b""
        server.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "header_list": list(self.headers.items()),
                "body": body,
            }
        )
        if server.delay:
            time.sleep(server.delay)
        payload = json.dumps({"ok": True, "method": self.command, "path": self.path}).encode()
        self.send_response(server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in server.extra_headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _read_chunked(self) -> bytes:
        data = b""
        while True:
            size = int(self.rfile.readline().strip(), 16)
            if size == 0:
                self.rfile.readline()
                return data
            data += self.rfile.read(size)
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class UpstreamServer(LoopbackServer):
    """Answers every request with a small JSON body and records what it received."""

    def __init__(self):
        self.requests: list[dict] = []
        self.delay = 0.0
        self.status = 200
        self.extra_headers: list[tuple[str, str]] = []
        super().__init__(_UpstreamHandler)

    @property
    def last(self) -> dict:
        return self.requests[-1]


class _IdpHandler(QuietHandler):
    def do_GET(self) -> None:
        idp: JwksServer = self.server.owner
        if self.path == "/.well-known/openid-configuration":
            idp.discovery_hits += 1
            self._send(200, json.dumps(idp.discovery_document()).encode())
            return
        if self.path != "/jwks":
            self._send(404, b"{}")
            return
        idp.count_hit()
        mode = idp.mode
        if mode == "ok":
            self._send(200, json.dumps({"keys": idp.public_keys()}).encode())
        elif mode == "error":
            self._send(500, b"oops")
        elif mode == "html":
            self._send(200, b"<html>maintenance</html>", "text/html")
        elif mode == "empty":
            self._send(200, b'{"keys": []}')
        elif mode == "hang":
            time.sleep(idp.hang_seconds)
            self._send(200, b'{"keys": []}')
        elif mode == "huge":
            self._send(200, b'{"keys": [' + b" " * (3 * 1024 * 1024) + b"]}")
        elif mode == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for byte in b'{"keys": []}':
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class JwksServer(LoopbackServer):
    """An OpenID provider on loopback: discovery document plus a JWKS whose keys tests change."""

    def __init__(self):
        self.keys: list = []  # jwcrypto JWKs (private; only public parts are served)
        self.mode = "ok"
        self.hang_seconds = 30.0
        self.discovery_hits = 0
        self.discovery_issuer: str | None = None
        super().__init__(_IdpHandler)
        self.issuer = self.url

    def public_keys(self) -> list[dict]:
        return [key.export_public(as_dict=True) for key in self.keys]

    def discovery_document(self) -> dict:
        return {
            "issuer": self.discovery_issuer or self.issuer,
            "jwks_uri": f"{self.url}/jwks",
            "token_endpoint": f"{self.url}/token",
        }


class _RedirectHandler(QuietHandler):
    def do_GET(self) -> None:
        server: RedirectServer = self.server.owner
        server.count_hit()
        self.send_response(302)
        self.send_header("Location", server.location)
        self.send_header("Content-Length", "0")
        self.end_headers()


class RedirectServer(LoopbackServer):
    """Answers every GET with 302 to `location`; over HTTPS when given `tls`."""

    def __init__(self, location: str = "", tls: tuple[Path, Path] | None = None):
        self.location = location
        super().__init__(_RedirectHandler, tls)


def tls_files(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, written to `directory`: pass
    them as `tls` to a LoopbackServer; clients trust the certificate through
    REQUESTS_CA_BUNDLE."""
    key = new_ec_key("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate_pem(key, "127.0.0.1", ip="127.0.0.1"))
    key_file.write_bytes(key.export_to_pem(private_key=True, password=None))
    return cert_file, key_file


class ScriptedServer:
    """A raw TCP server on 127.0.0.1 running `behaviour(conn, server)` for every accepted
    connection, each in a thread of its own; `stopping` is set by stop()."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.accepted = 0
        self.stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._connections: list[socket.socket] = []
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.behaviour(conn, self)

    def stop(self) -> None:
        self.stopping.set()
        self._listener.close()
        for conn in self._connections:
            with contextlib.suppress(OSError):
                conn.close()


def read_request_head(conn: socket.socket) -> bytes:
    conn.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class _ClosingServerHandler(ServerHandler):
    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        self.headers["Connection"] = "close"
        self.request_handler.close_connection = True


class _OneRequestPerConnection(QuietWSGIRequestHandler):
    """Answers with `Connection: close`: a kept-alive client must not pin a server thread
    (and its DB connection) past the test, which PostgreSQL reports as a busy test
    database, and a client never reuses a connection the server is about to close."""

    def handle_one_request(self) -> None:
        # Django's handle_one_request, with the closing ServerHandler.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _ClosingServerHandler(
            self.rfile, self.wfile, self.get_stderr(), self.get_environ()
        )
        handler.request_handler = self
        handler.run(self.server.get_app())


class WsgiServer:
    """A WSGI app on a threaded loopback server (one request per connection)."""

    def __init__(self, app):
        self.httpd = _BigBacklogWSGIServer(("127.0.0.1", 0), _OneRequestPerConnection)
        self.httpd.daemon_threads = True
        self.httpd.set_app(app)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class DataPlaneServer:
    """The data plane (proxy/asgi.py) on uvicorn with the production protocol and uvloop,
    in a thread of this process, so tests share its database and cache."""

    def __init__(self, internal_url: str):
        import socket

        import uvicorn

        from proxy.asgi import PublicApp
        from proxy.server import DataPlaneWorker

        kwargs = dict(DataPlaneWorker.CONFIG_KWARGS)
        kwargs.update(log_level="warning", timeout_keep_alive=5)
        # Tests publish after the server starts: load the config on the first call.
        self.app = PublicApp(internal_url=internal_url, preload=False)
        config = uvicorn.Config(self.app, **kwargs)
        self.server = uvicorn.Server(config)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AssertionError("the data plane did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


class GatewayServer:
    """Both planes in this process: the data plane on uvicorn (`url`, proxied APIs and the
    relayed OAuth2 endpoints), the control plane's admin listener (`admin_url`: console,
    REST API, Django admin) and its internal listener (`internal_url`). With
    `static_files`, the admin listener serves static files as runserver does."""

    def __init__(self, static_files: bool = False):
        from django.contrib.staticfiles.handlers import StaticFilesHandler

        from gateway_admin.wsgi import admin_application, public_application

        admin = StaticFilesHandler(admin_application) if static_files else admin_application
        self.admin = WsgiServer(admin)
        self.internal = WsgiServer(public_application)
        self.data = DataPlaneServer(self.internal.url)
        self.port = self.data.port
        self.url = self.data.url
        self.admin_url = self.admin.url
        self.internal_url = self.internal.url

    def stop(self) -> None:
        self.data.stop()
        self.admin.stop()
        self.internal.stop()


def call_gateway_in_thread(path: str, token: str) -> tuple[int, bytes]:
    """The data plane's ASGI app driven on an event loop in this thread, so every DB query
    it makes on that loop is counted here (blocking work goes to other threads)."""
    import asyncio

    from proxy.asgi import PublicApp

    app = PublicApp(preload=False)
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    async def call() -> None:
        from proxy.forward import forget_client

        try:
            await app(scope, receive, send)
        finally:
            forget_client()

    asyncio.run(call())
    status = sent[0]["status"]
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return status, body
