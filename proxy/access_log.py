"""The JSON access log: one line per proxied call (GATEWAY_REQUEST_LOG).

    GATEWAY_REQUEST_LOG=stdout            # or off (default), or a file path
    GATEWAY_REQUEST_LOG_SAMPLE=0.1        # log one call in ten

Each line is one `write()` of a complete JSON object, so lines from several workers
appending to one file or pipe never interleave. Values come from the compiled
config, the gateway's own ids and numbers; the few request-derived ones (method,
request id, trace id) are validated or JSON-escaped, so a hostile header can never
start a new line or forge a field.
"""

import contextlib
import json
import os
import random
import sys
import threading

from django.conf import settings

_lock = threading.Lock()
_fd: int | None = None
_opened_for: str | None = None


def enabled() -> bool:
    return (
        settings.GATEWAY_REQUEST_LOG not in ("", "off") and settings.GATEWAY_REQUEST_LOG_SAMPLE > 0
    )


def _descriptor() -> int:
    global _fd, _opened_for
    destination = settings.GATEWAY_REQUEST_LOG
    if _fd is None or _opened_for != destination:
        with _lock:
            if destination == "stdout":
                _fd = sys.stdout.fileno()
            elif destination == "stderr":
                _fd = sys.stderr.fileno()
            else:
                _fd = os.open(destination, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            _opened_for = destination
    return _fd


def write(entry: dict) -> None:
    sample = settings.GATEWAY_REQUEST_LOG_SAMPLE
    if sample < 1 and random.random() >= sample:
        return
    line = json.dumps(entry, separators=(",", ":"), ensure_ascii=True) + "\n"
    with contextlib.suppress(OSError):  # a full disk or closed pipe must not fail the call
        os.write(_descriptor(), line.encode("ascii"))
