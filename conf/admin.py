"""gunicorn settings of the control plane: `gunicorn -c conf/admin.py gateway_admin.wsgi`.

Django (console, REST admin API, Django admin, the internal authorization server)
on gthread workers, listening twice: on the admin address and on an internal
address that only the data plane reaches (it relays the public OAuth2 endpoints
there). gateway_admin.wsgi tells the two apart by the listening socket. Every
value can be changed from the environment; the header limits answer 400 before
Django runs.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")
# A change's snapshot is compiled and announced in a background thread of the worker, not
# in the admin's request (core/config_bus.py publish; 100,000 applications take seconds).
os.environ.setdefault("GATEWAY_CONFIG_PUBLISH_IN_BACKGROUND", "true")


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = [
    os.environ.get("GATEWAY_ADMIN_BIND", "127.0.0.1:8001"),
    os.environ.get("GATEWAY_INTERNAL_BIND", "127.0.0.1:8002"),
]
worker_class = "gthread"
# Admin traffic is light; password hashing (logins, client secrets) is the heavy part.
workers = _int("GATEWAY_ADMIN_WORKERS", 2)
threads = _int("GATEWAY_ADMIN_THREADS", 8)
timeout = _int("GATEWAY_ADMIN_TIMEOUT", 30)
graceful_timeout = _int("GATEWAY_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GATEWAY_ADMIN_KEEPALIVE", 5)
# Every page is bounded (issue 21), but CPython rarely gives freed heap back to the OS:
# a worker is replaced after this many requests (plus up to the jitter, so workers
# don't restart together) and its memory starts from zero. 0 turns recycling off.
max_requests = _int("GATEWAY_ADMIN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GATEWAY_ADMIN_MAX_REQUESTS_JITTER", 200)

# --- Request limits (each exceeded limit is a 400 from gunicorn itself) ----------
limit_request_line = _int("GATEWAY_LIMIT_REQUEST_LINE", 4094)
limit_request_fields = _int("GATEWAY_LIMIT_REQUEST_FIELDS", 100)
limit_request_field_size = _int("GATEWAY_LIMIT_REQUEST_FIELD_SIZE", 8190)
# A header with "_" would land on the same WSGI key as its "-" twin; drop it.
header_map = "drop"
permit_obsolete_folding = False
# Believe X-Forwarded-Proto only from the configured load balancers.
forwarded_allow_ips = os.environ.get("GATEWAY_TRUSTED_PROXIES", "").strip()
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
# No header may rewrite SCRIPT_NAME / PATH_INFO.
forwarder_headers = ""

accesslog = os.environ.get("GATEWAY_ACCESS_LOG") or None
errorlog = "-"
# gunicorn's control socket (gunicornc) defaults to one path per user: two planes would
# fight over it. Nothing here uses it.
control_socket_disable = True
loglevel = os.environ.get("GATEWAY_LOG_LEVEL", "info")
proc_name = "gatekeep-admin"

# The control plane yields the CPU to the data plane: a flood of password checks
# (wrong client secrets, logins) slows the console, not proxied calls.
_nice = _int("GATEWAY_ADMIN_NICE", 10)


def post_fork(server, worker) -> None:
    from core.config_bus import publisher

    # Started before the nice below: on Linux a nice value is per thread and inherited by
    # the threads a thread starts, so the config publisher (which carries each change to
    # the data plane) keeps the normal priority while request threads yield.
    publisher.start()
    if _nice:
        os.nice(_nice)


def worker_exit(server, worker) -> None:
    from core.config_bus import publisher

    # An exiting worker finishes announcing what it committed (polling is the safety net).
    publisher.drain(timeout=30)


def child_exit(server, worker) -> None:
    # prometheus-client multiprocess mode (proxy/metrics.py): drop a dead worker's live gauges.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker) -> None:
    import gc

    # Django, DRF and the admin are loaded by now: move those long-lived objects out of
    # the cyclic collector's reach, so a full collection scans only what requests made
    # (here it took 100-500 ms at nice 10, stalling the config publisher too).
    gc.collect()
    gc.freeze()
