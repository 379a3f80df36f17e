"""The JSON access log: one line per proxied call (GATEWAY_REQUEST_LOG).

    GATEWAY_REQUEST_LOG=stdout            # or off (default), or a file path
    GATEWAY_REQUEST_LOG_SAMPLE=0.1        # log one call in ten

Lines are written in batches of whole lines, each batch one `write()` of at most
4 KiB (PIPE_BUF), at most 0.2 s after the call: lines from several workers appending
to one file or pipe never interleave, and a call costs no system call of its own.
Values come from the compiled config, the gateway's own ids and numbers; the few
request-derived ones (method, request id, trace id) are validated or JSON-escaped, so
a hostile header can never start a new line or forge a field.
"""

import asyncio
import contextlib
import json
import os
import random
import sys
import threading

from django.conf import settings

BATCH_BYTES = 4096  # PIPE_BUF on Linux
# One encoder: json.dumps() with arguments builds a new one per call.
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)
FLUSH_SECONDS = 0.2
_lock = threading.Lock()
_fd: int | None = None
_opened_for: str | None = None
_pending: list[bytes] = []
_pending_bytes = 0
_pending_lock = threading.Lock()
_timer: tuple | None = None  # (event loop, its timer handle) of the next flush


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
    """Queue one line; lines go out in batches of up to PIPE_BUF bytes within FLUSH_SECONDS
    (a batch is one write(), atomic on a pipe as on an O_APPEND file)."""
    global _pending_bytes, _timer
    sample = settings.GATEWAY_REQUEST_LOG_SAMPLE
    if sample < 1 and random.random() >= sample:
        return
    line = (_encoder.encode(entry) + "\n").encode("ascii")
    with _pending_lock:
        if _pending_bytes + len(line) > BATCH_BYTES:
            _write_pending()
        _pending.append(line)
        _pending_bytes += len(line)
        if _timer is not None and not _timer[0].is_closed():
            return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        flush()
        return
    _timer = (loop, loop.call_later(FLUSH_SECONDS, flush))


def flush() -> None:
    """Write what is queued (the timer, the worker's housekeeping thread, shutdown)."""
    global _timer
    with _pending_lock:
        _timer = None
        _write_pending()


def _write_pending() -> None:
    global _pending_bytes
    if not _pending:
        return
    data = b"".join(_pending)
    _pending.clear()
    _pending_bytes = 0
    with contextlib.suppress(OSError):  # a full disk or closed pipe must not fail the call
        os.write(_descriptor(), data)
