"""The JSON access log: one line per proxied call (GATEWAY_REQUEST_LOG).

    GATEWAY_REQUEST_LOG=stdout            # or stderr, off (default), or a file path
    GATEWAY_REQUEST_LOG_SAMPLE=0.1        # log one call in ten

A call only queues its values (proxy/call_record.py); lines are made and written with
the queued calls, in batches of up to 256 calls, at most 0.2 s after the call.
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

import contextlib
import os
import stat
import sys
import threading
import time
from json.encoder import encode_basestring_ascii as _quote  # the C escaping when available

from proxy.metrics import NONE
from proxy.switches import LOG_OFF

BATCH_BYTES = 4096  # PIPE_BUF on Linux: a larger write to a pipe may interleave
FILE_BATCH_BYTES = 65536
_fds: dict[str, int] = {}
_limits: dict[str, int] = {}  # destination → bytes per write()
_fds_lock = threading.Lock()
# One writer at a time: a worker's lines leave in the order they were made.
_write_lock = threading.Lock()


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


def write_calls(calls) -> None:
    """The lines of the queued calls that are logged (proxy/call_record.py: each call's
    tuple names its destination, None when it is not logged), written per destination."""
    by_destination: dict[str, list[str]] = {}
    for (
        wall_ns,
        api,
        route,
        application,
        status,
        code,
        gateway_ns,
        upstream_ns,
        total_ns,
        _counted,
        destination,
        request_id,
        trace,
        method,
        bytes_sent,
    ) in calls:
        if destination is None:
            continue
        text = line(
            wall_ns,
            request_id,
            trace.trace_id if trace is not None else None,
            method,
            api.name if api is not None else NONE,
            route.label if route is not None else NONE,
            application.name if application is not None else NONE,
            status,
            code,
            total_ns,
            gateway_ns,
            upstream_ns,
            bytes_sent,
        )
        lines = by_destination.get(destination)
        if lines is None:
            lines = by_destination[destination] = []
        lines.append(text)
    for destination, lines in by_destination.items():
        write_lines(destination, lines)


def write_lines(destination: str, lines: list[str]) -> None:
    # A full disk or a closed pipe must not fail the call.
    with _write_lock, contextlib.suppress(OSError):
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
