"""The gateway under its production command, `manage.py serve`, as a subprocess.

Both planes start as in production: the data plane (gunicorn + uvicorn workers,
conf/public.py) on `url`, the control plane (gunicorn gthread, conf/admin.py) on
`admin_url` and its internal listener. `server="granian"` starts granian on the
data plane's ASGI app instead: tests/faults/test_request_framing.py pins why it is
not the production server.

`production_gateway` is a factory: publish what the test needs first, then call
it. The server reads the test database (DATABASE_URL of the test DB). Its cache
is REDIS_URL when set (shared with the test process, so config changes made by
the test reach it); without REDIS_URL it has its own in-process cache, so it only
sees data written before it started - which is how these tests are written.
"""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The test database, as a DATABASE_URL another process can use."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{user}{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class ProductionGateway:
    process: subprocess.Popen
    port: int = 0
    admin_port: int = 0
    internal_port: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def worker_pids(self, plane: str = "public") -> list[int]:
        """The worker processes of one plane (children of its gunicorn master)."""
        masters = _children(self.process.pid)
        if not masters:  # granian or a bare server: its own children
            return []
        for master in masters:
            try:
                command = Path(f"/proc/{master}/cmdline").read_bytes()
            except OSError:
                continue
            if f"conf/{plane}.py".encode() in command:
                return _children(master)
        return []

    def worker_memory_kb(self, field_name: str = "VmRSS") -> int:
        """VmRSS (or VmHWM, the peak) of the one data-plane worker, from /proc/<pid>/status."""
        pids = self.worker_pids()
        assert len(pids) == 1, f"expected one worker, found {pids}"
        return proc_memory_kb(pids[0], field_name)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        everything = [
            pid for master in _children(self.process.pid) for pid in [master, *_children(master)]
        ]
        self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=15)
        for pid in [*everything, self.process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def proc_memory_kb(pid: int, field_name: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field_name} missing for {pid}")


def start_gateway(
    env: dict | None = None,
    workers: int = 1,
    threads: int = 8,
    server: str = "gunicorn",
    plane: str = "both",
) -> ProductionGateway:
    """Both planes on the test database; `workers` data-plane workers, `threads` per
    control-plane worker; `env` overrides any variable."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "DEBUG": "false",
        "GATEWAY_TRUSTED_PROXIES": "",
        "LOG_LEVEL": "WARNING",
    }
    if settings.REDIS_URL:
        environment["REDIS_URL"] = settings.REDIS_URL
        environment["CELERY_TASK_ALWAYS_EAGER"] = "true"  # the gateway itself never enqueues
    else:
        environment.pop("REDIS_URL", None)
    environment.update(env or {})
    return launch(environment, workers, threads, granian=server == "granian", plane=plane)


def launch(
    environment: dict,
    workers: int,
    threads: int,
    granian: bool = False,
    timeout: float = 90,  # a loaded 2-core CI machine can take a while to start gunicorn
    plane: str = "both",
) -> ProductionGateway:
    """`manage.py serve` (or granian on the data plane) on free loopback ports, once both
    planes answer /healthz; bench/soak.py starts its gateway here too."""
    port, admin_port, internal_port = free_port(), free_port(), free_port()
    environment = {
        "GATEWAY_GRACEFUL_TIMEOUT": "3",
        "GATEWAY_LOG_LEVEL": "warning",
        **environment,
        "GATEWAY_PUBLIC_BIND": f"127.0.0.1:{port}",
        "GATEWAY_ADMIN_BIND": f"127.0.0.1:{admin_port}",
        "GATEWAY_INTERNAL_BIND": f"127.0.0.1:{internal_port}",
        "GATEWAY_PUBLIC_WORKERS": str(workers),
        "GATEWAY_ADMIN_WORKERS": "1",
        "GATEWAY_ADMIN_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "manage.py", "serve", "--plane", plane]
    if granian:
        command = [
            sys.executable,
            "-m",
            "granian",
            "--interface=asgi",
            "--http=1",
            "--no-ws",
            f"--port={port}",
            f"--workers={workers}",
            "proxy.asgi:application",
        ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    gateway = ProductionGateway(process, port, admin_port, internal_port)

    def read_log() -> None:
        for line in process.stdout:
            gateway.log.append(line.rstrip())

    threading.Thread(target=read_log, daemon=True).start()
    deadline = time.monotonic() + timeout
    probes = [gateway.url + "/healthz"]
    if not granian and plane != "public":
        probes.append(gateway.admin_url + "/healthz")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if all(requests.get(url, timeout=2).status_code == 200 for url in probes):
                return gateway
        except requests.RequestException:
            pass
        time.sleep(0.1)
    gateway.stop()
    name = "granian" if granian else "manage.py serve"
    raise AssertionError(f"{name} never became healthy:\n" + "\n".join(gateway.log[-30:]))


@pytest.fixture
def production_gateway(transactional_db):
    """start(env=..., workers=1, threads=8, server="gunicorn") -> ProductionGateway, stopped
    after the test."""
    started: list[ProductionGateway] = []

    def start(
        env: dict | None = None,
        workers: int = 1,
        threads: int = 8,
        server: str = "gunicorn",
        plane: str = "both",
    ) -> ProductionGateway:
        gateway = start_gateway(env, workers, threads, server, plane)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raw_exchange(
    port: int, data: bytes, timeout: float = 5.0, until_close: bool = True
) -> tuple[bytes, bool]:
    """Send raw bytes; return (everything received, whether the server closed the connection).

    With until_close=False it returns as soon as one response with a Content-Length is complete.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may refuse before reading it all; its answer may still be there.
        with contextlib.suppress(OSError):
            sock.sendall(data)
        received = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return received, False
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
            if not until_close and _complete(received):
                return received, False
        return received, False


def _complete(data: bytes) -> bool:
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        return False
    found = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    return found is not None and len(body) >= int(found.group(1))


def add_api(published, base_path: str, upstream_url: str, read_timeout: float = 2.0):
    """Another active API (ANY /{path+}) beside `published`'s, same issuer and application."""
    from apis.models import Api, IdentifyAndAuthorizePolicy, Route
    from apis.services import activate_api

    api = Api.objects.create(
        name=base_path.strip("/").replace("/", "-"),
        version="v1",
        base_path=base_path,
        upstream_url=upstream_url,
        read_timeout=read_timeout,
        connect_timeout=1.0,
    )
    Route.objects.create(api=api, method="ANY", path="/{path+}")
    policy = IdentifyAndAuthorizePolicy.objects.create(
        api=api, audiences=["petstore"], forward_claims={"email": "X-User-Email"}
    )
    policy.authorization_servers.add(published.server)
    published.application.apis.add(api)
    assert activate_api(api) == []
    return api


class RedisServer:
    """A real redis-server on its own port, started and stopped by the test."""

    def __init__(self, port: int | None = None):
        import shutil

        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def restart(self) -> None:
        self.__init__(self.port)


@pytest.fixture
def redis_server():
    server = RedisServer()
    yield server
    server.stop()
