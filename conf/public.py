"""gunicorn settings of the data plane: `gunicorn -c conf/public.py proxy.asgi:application`.

gunicorn only manages the processes (start, restart, graceful stop); each worker
runs uvicorn's llhttp protocol on uvloop (proxy/server.py), which parses and
limits requests itself (GATEWAY_LIMIT_* settings). `manage.py serve` starts this
and the control plane (conf/admin.py) together.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GATEWAY_PUBLIC_BIND", "127.0.0.1:8000")
worker_class = "proxy.server.DataPlaneWorker"
# One event loop per core; more only adds context switches (bench/README.md).
workers = _int("GATEWAY_PUBLIC_WORKERS", os.cpu_count() or 1)
# Each worker listens on its own SO_REUSEPORT socket, so the kernel spreads new
# connections evenly instead of letting one worker take every keep-alive connection.
reuse_port = os.environ.get("GATEWAY_REUSE_PORT", "true").lower() == "true"
backlog = _int("GATEWAY_PUBLIC_BACKLOG", 2048)
# Seconds a worker's event loop may stay unresponsive before the master restarts it.
timeout = _int("GATEWAY_WORKER_TIMEOUT", 30)
graceful_timeout = _int("GATEWAY_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GATEWAY_KEEPALIVE_SECONDS", 5)
# X-Forwarded-* are judged by the gateway itself (GATEWAY_TRUSTED_PROXIES).
forwarded_allow_ips = ""

accesslog = os.environ.get("GATEWAY_ACCESS_LOG") or None  # "-" for stdout
errorlog = "-"
# gunicorn's control socket (gunicornc) defaults to one path per user: two planes would
# fight over it. Nothing here uses it.
control_socket_disable = True
loglevel = os.environ.get("GATEWAY_LOG_LEVEL", "info")
proc_name = "gatekeep-public"


def child_exit(server, worker) -> None:
    # prometheus-client multiprocess mode (proxy/metrics.py): drop a dead worker's live gauges.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker) -> None:
    # Config builds run in a background thread: one malloc arena lets the worker give their
    # temporaries back (proxy/memory.py; ~30 MB per worker at 100,000 applications).
    from proxy.memory import use_one_arena

    use_one_arena()
