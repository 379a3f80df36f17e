"""gunicorn settings for Gatekeep: `gunicorn -c gunicorn.conf.py gateway_admin.wsgi`.

Every value can be changed from the environment; the header limits are the
first line of defence against oversized and smuggled requests (SECURITY.md §5)
and each answers 400 before Django or the proxy runs.
"""

import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Each worker listens on its own SO_REUSEPORT socket, so the kernel spreads new
# connections evenly. With one shared socket, the workers race for accept() and
# one can end up holding every keep-alive connection while the others idle:
# bench/run saw 1,650 instead of 4,000 req/s whenever that happened. The price:
# connections still queued on a worker that dies (e.g. killed after `timeout`) are
# reset instead of being taken by a sibling.
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "true").lower() == "true"
# gthread: each worker serves GUNICORN_THREADS requests at once; an upstream call
# mostly waits on the network, so threads are cheap concurrency. One worker per
# core: a third worker on 2 cores only raised p99 in bench/run.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = _int("GUNICORN_WORKERS", os.cpu_count() or 1)
threads = _int("GUNICORN_THREADS", 8)
# Seconds a worker may go silent before the master restarts it. gthread's
# heartbeat runs beside the request threads, so a slow upstream does not count.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Keep-alive towards the load balancer; keep it below the LB's idle timeout.
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# --- Request limits (each exceeded limit is a 400 from gunicorn itself) ----------
# Request line (method + target + version). 4094 is gunicorn's default: long
# enough for any route plus a query-string token, short of abuse.
limit_request_line = _int("GUNICORN_LIMIT_REQUEST_LINE", 4094)
# Number of header fields. 100 is plenty for browsers, SDKs and load balancers.
limit_request_fields = _int("GUNICORN_LIMIT_REQUEST_FIELDS", 100)
# Size of one header line, name included. 8190 keeps a maximal bearer token
# (GATEWAY_MAX_TOKEN_BYTES, 8 KiB) within reach while refusing 9 KB+ headers.
limit_request_field_size = _int("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", 8190)

# --- Header mapping and forwarded headers ----------------------------------------
# A header with "_" (X_Gateway_Application) would land on the same WSGI key as its
# "-" twin; drop it rather than let it collide (CVE-2015-0219 class). The proxy
# additionally strips everything that normalises to x-gateway-*.
header_map = "drop"
# Folded header lines (obs-fold) are refused with 400 (RFC 9112 §5.2).
permit_obsolete_folding = False
# Believe X-Forwarded-Proto only from the same load balancers the proxy trusts for
# X-Forwarded-For (GATEWAY_TRUSTED_PROXIES, addresses or CIDR networks); empty
# trusts nobody. gunicorn's own default would trust 127.0.0.1.
forwarded_allow_ips = os.environ.get("GATEWAY_TRUSTED_PROXIES", "").strip()
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
# No header may rewrite SCRIPT_NAME / PATH_INFO: routing is the gateway's.
forwarder_headers = ""

# --- Logging ----------------------------------------------------------------------
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None  # "-" for stdout
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
