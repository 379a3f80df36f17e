"""The JSON access log: one line per proxied call (GATEWAY_REQUEST_LOG).

    GATEWAY_REQUEST_LOG=stdout            # or stderr, off (default), or a file path
    GATEWAY_REQUEST_LOG_SAMPLE=0.1        # log one call in ten

A call only queues its values (`enqueue`, a list append); lines are made and written in
batches of up to 256 calls, at most 0.2 s after the call (a second if a timer is lost),
so formatting is off the call's own path.
Each `write()` holds whole lines: at most 4 KiB (PIPE_BUF) to a pipe or terminal, at most
64 KiB to a regular file (opened O_APPEND: the kernel places each write whole at the
end), so lines from several workers appending to one file or pipe never interleave, and
a call costs no system call of its own. A line is queued for the destination configured
when it was made and written there, even if the setting changes before the batch goes
out ("off" is never a file name).

`line()` writes the JSON text directly: every string goes through json's C escaping
(`encode_basestring_ascii`, what json.dumps uses) and every number is an integer, so the
line is byte for byte what json.dumps(entry, separators=(",", ":")) makes of the same
values, at a fraction of the cost (tests/observe/test_access_log.py). Values come from
the compiled config, the gateway's own ids and numbers; the few request-derived ones
(method, request id) are escaped like the rest, so a hostile header can never start a
new line or forge a field.
"""

import asyncio
import contextlib
import os
import stat
import sys
import threading
import time
from json.encoder import encode_basestring_ascii as _quote  # the C escaping when available

from proxy.switches import LOG_OFF

BATCH_BYTES = 4096  # PIPE_BUF on Linux: a larger write to a pipe may interleave
FILE_BATCH_BYTES = 65536
FLUSH_SECONDS = 0.2
BATCH_CALLS = 256
_fds: dict[str, int] = {}
_limits: dict[str, int] = {}  # destination → bytes per write()
_fds_lock = threading.Lock()
# destination → the queued calls' line() arguments; lines are ASCII: characters are bytes
_pending: dict[str, list[tuple]] = {}
_pending_lock = threading.Lock()
_timer_armed = False  # a flush() is due within FLUSH_SECONDS


def line(
    time_ns: int,
    request_id: str,
    trace_id: str | None,
    method: str,
    api: str,
    route: str,
    application: str,
    status: int,
    code: str | None,
    duration_ns: int,
    gateway_ns: int,
    upstream_ns: int | None,
    bytes_sent: int,
) -> str:
    """One access-log line (with its newline); times and durations in integer nanoseconds.

    `time` is UTC in ISO 8601 to the microsecond (truncated); durations are integer
    microseconds (rounded). Integers, and a date made once per second, because a float's
    repr is most of what a line would otherwise cost.
    """
    global _clock
    micros = time_ns // 1000
    second = micros // 1_000_000
    if second != _clock[0]:
        _clock = (second, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)))
    trace = "null" if trace_id is None else f'"{trace_id}"'  # hex: tracing.py makes or checks it
    problem = "null" if code is None else _quote(code)
    upstream = "null" if upstream_ns is None else (upstream_ns + 500) // 1000
    return (
        f'{{"time":"{_clock[1]}{micros % 1_000_000:06d}Z","request_id":{_quote(request_id)},'
        f'"trace_id":{trace},"method":{_quote(method)},"api":{_quote(api)},'
        f'"route":{_quote(route)},"application":{_quote(application)},"status":{status},'
        f'"code":{problem},"duration_us":{(duration_ns + 500) // 1000},'
        f'"gateway_us":{(gateway_ns + 500) // 1000},"upstream_us":{upstream},'
        f'"bytes_sent":{bytes_sent}}}\n'
    )


_clock = (-1, "")  # (Unix second, its ISO date and time up to the fraction)


def enqueue(destination: str, values: tuple) -> None:
    """Queue one call's `line()` arguments for `destination`; its line is made and written
    with the batch (within FLUSH_SECONDS, or once BATCH_CALLS calls are queued)."""
    with _pending_lock:
        queue = _pending.get(destination)
        if queue is None:
            queue = _pending[destination] = []
        queue.append(values)
        if len(queue) >= BATCH_CALLS:
            _write(destination, queue)
        elif not _timer_armed:
            _arm_timer(destination, queue)


def _arm_timer(destination: str, queue: list) -> None:
    """One timer at a time flushes what is queued. A timer on a loop that has stopped (a
    server restarted in the same process) never fires: the housekeeping thread's flush
    (proxy/observe.py, every second) disarms it, and the next call arms a new one."""
    global _timer_armed
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _write(destination, queue)  # no event loop to time a batch
        return
    loop.call_later(FLUSH_SECONDS, flush)
    _timer_armed = True


def flush() -> None:
    """Write what is queued (the timer, the worker's housekeeping thread, shutdown)."""
    global _timer_armed
    with _pending_lock:
        _timer_armed = False
        for destination, queue in _pending.items():
            _write(destination, queue)


def _write(destination: str, queue: list) -> None:
    if not queue:
        return
    lines = [line(*values) for values in queue]
    queue.clear()
    with contextlib.suppress(OSError):  # a full disk or closed pipe must not fail the call
        fd = _descriptor(destination)
        if fd is None:
            return
        for chunk in _whole_lines(lines, _batch_limit(destination, fd)):
            os.write(fd, chunk)


def _whole_lines(lines: list[str], limit: int):
    """The lines joined into pieces of at most `limit` bytes (a longer line alone)."""
    batch, size = [], 0
    for text in lines:
        if batch and size + len(text) > limit:
            yield "".join(batch).encode("ascii")
            batch, size = [], 0
        batch.append(text)
        size += len(text)
    if batch:
        yield "".join(batch).encode("ascii")


def _batch_limit(destination: str, fd: int) -> int:
    limit = _limits.get(destination)
    if limit is None:
        limit = BATCH_BYTES
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.fstat(fd).st_mode):
                limit = FILE_BATCH_BYTES
        _limits[destination] = limit
    return limit


def _descriptor(destination: str) -> int | None:
    fd = _fds.get(destination)
    if fd is None:
        if destination.strip().lower() in LOG_OFF:
            return None  # never a file called "off"
        with _fds_lock:
            fd = _fds.get(destination)
            if fd is None:
                if destination == "stdout":
                    fd = sys.stdout.fileno()
                elif destination == "stderr":
                    fd = sys.stderr.fileno()
                else:
                    fd = os.open(destination, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                _fds[destination] = fd
    return fd
