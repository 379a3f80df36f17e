"""The JSON access log: one line per proxied call, its fields, sampling, no injection, the
line made without json.dumps, and "off" never being a file."""

import asyncio
import contextlib
import json
import socket
import struct
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import requests
import urllib3

from apis.models import Api
from proxy import access_log, call_record, switches
from proxy.call_record import CallRecord, record
from tests.servers import ScriptedServer, read_request_head


@pytest.fixture
def log_file(settings, tmp_path):
    path = tmp_path / "access.log"
    settings.GATEWAY_REQUEST_LOG = str(path)
    settings.GATEWAY_REQUEST_LOG_SAMPLE = 1.0
    return path


def lines(path, at_least: int = 0) -> list[dict]:
    """The log's entries, once it has `at_least` (a line is written just after the response
    went out, so the client may be a moment ahead of it)."""
    deadline = time.monotonic() + 5
    while True:
        text = path.read_text() if path.exists() else ""
        if text.count("\n") >= at_least or time.monotonic() > deadline:
            return [json.loads(line) for line in text.splitlines()]
        time.sleep(0.01)


def settled(path) -> list[dict]:
    time.sleep(0.3)
    return lines(path)


def test_each_call_writes_one_line_with_what_happened(published, log_file):
    token = published.token()
    ok = published.get("/pets/12", token, headers={"X-Request-Id": "order-4711"})
    assert ok.status_code == 200
    refused = published.get("/pets")
    assert refused.status_code == 401
    entries = settled(log_file)
    assert len(entries) == 2
    first, second = entries
    assert first["request_id"] == "order-4711"
    assert first["method"] == "GET"
    assert first["api"] == "Petstore v1"
    assert first["route"] == "GET /pets/{id}"
    assert first["application"] == "Petstore client"
    assert first["status"] == 200
    assert first["code"] is None
    assert first["bytes_sent"] == len(ok.content)
    assert first["upstream_us"] > 0
    assert first["gateway_us"] >= 0
    # each rounded to the microsecond on its own
    assert abs(first["duration_us"] - first["gateway_us"] - first["upstream_us"]) <= 1
    logged_at = datetime.fromisoformat(first["time"].replace("Z", "+00:00"))
    assert abs(logged_at - datetime.now(UTC)) < timedelta(seconds=30)
    assert len(first["trace_id"]) == 32
    assert second["request_id"] == refused.headers["X-Request-Id"]
    assert second["status"] == 401
    assert second["code"] == "missing_token"
    assert second["route"] == "GET /pets"
    assert second["application"] == "-"
    assert second["upstream_us"] is None
    assert second["bytes_sent"] == len(refused.content)


def body_cut_short(conn: socket.socket, upstream: ScriptedServer) -> None:
    """Promise 100,000 bytes, send 30,000 in two pieces, then reset the connection."""
    read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
    conn.sendall(b"a" * 10_000)
    time.sleep(0.2)
    conn.sendall(b"b" * 20_000)
    time.sleep(0.2)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def test_a_body_cut_short_logs_the_bytes_that_went_out(published, log_file):
    broken = ScriptedServer(body_cut_short)
    Api.objects.filter(pk=published.api.pk).update(upstream_url=broken.url)
    published.api.refresh_from_db()
    published.api.save()
    published.gateway_wait_for_reload()
    received = bytearray()
    try:
        with requests.get(
            published.url + "/pets",
            headers={"Authorization": f"Bearer {published.token()}"},
            stream=True,
            timeout=10,
        ) as response:
            assert response.status_code == 200  # the head went out before the body broke
            with contextlib.suppress(urllib3.exceptions.ProtocolError):
                for piece in response.raw.stream(4096, decode_content=False):
                    received.extend(piece)
    finally:
        broken.stop()
    (entry,) = lines(log_file, at_least=1)
    assert entry["status"] == 200
    assert 0 < entry["bytes_sent"] <= 30_000  # it used to log 0
    assert len(received) <= entry["bytes_sent"]


def test_hostile_header_values_cannot_forge_lines_or_fields(published, log_file):
    hostile = '"}\n{"status":200,"x":"'
    session = requests.Session()
    response = session.get(
        published.url + "/pets",
        headers={
            "X-Request-Id": hostile.replace("\n", " ").encode("latin-1"),
            "Authorization": "Bearer " + "\xe9\x85\xff".encode("latin-1").decode("latin-1"),
            "Traceparent": hostile.replace("\n", " "),
        },
    )
    assert response.status_code == 401
    (entry,) = settled(log_file)  # one call, one line
    assert log_file.read_bytes().count(b"\n") == 1
    assert entry["status"] == 401
    assert entry["request_id"] == response.headers["X-Request-Id"]  # the unsafe id was replaced
    assert '"' not in entry["request_id"]
    assert set(entry) == {
        "time",
        "request_id",
        "trace_id",
        "method",
        "api",
        "route",
        "application",
        "status",
        "code",
        "duration_us",
        "gateway_us",
        "upstream_us",
        "bytes_sent",
    }


def test_sampling_and_off(published, log_file, settings):
    token = published.token()
    settings.GATEWAY_REQUEST_LOG_SAMPLE = 0.0
    for _ in range(5):
        assert published.get("/pets", token).status_code == 200
    assert settled(log_file) == []
    settings.GATEWAY_REQUEST_LOG_SAMPLE = 0.5
    for _ in range(200):
        published.get("/health")
    assert 50 < len(settled(log_file)) < 150
    settings.GATEWAY_REQUEST_LOG = "off"
    before = len(settled(log_file))
    published.get("/health")
    assert len(settled(log_file)) == before


@pytest.mark.parametrize(
    "text",
    [
        "Petstore v1",
        'a "quoted" name\\ with a backslash',
        "line\nbreak\r\tand \x00\x1f\x7f controls",
        "caf\xe9 \u2028 \U0001f600 non-ASCII",
        "",
    ],
)
def test_a_line_is_byte_for_byte_what_json_dumps_makes(text):
    values = {
        "time": 1764748800123456789,
        "request_id": text,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "method": "GET",
        "api": text,
        "route": f"GET /{text}",
        "application": text,
        "status": 502,
        "code": "upstream_unavailable",
        "duration_ns": 1_234_567,
        "gateway_ns": 234_567,
        "upstream_ns": 1_000_000,
        "bytes_sent": 61,
    }
    made = access_log.line(*values.values())
    expected = {
        "time": "2025-12-03T08:00:00.123456Z",
        **{name: values[name] for name in ("request_id", "trace_id", "method", "api")},
        **{name: values[name] for name in ("route", "application", "status", "code")},
        "duration_us": 1235,
        "gateway_us": 235,
        "upstream_us": 1000,
        "bytes_sent": 61,
    }
    assert made == json.dumps(expected, separators=(",", ":"), ensure_ascii=True) + "\n"
    assert made.count("\n") == 1 and made.isascii()
    assert json.loads(made) == expected
    unset = access_log.line(0, "-", None, "GET", "-", "-", "-", 499, None, 5, 5, None, 0)
    assert json.loads(unset)["trace_id"] is None
    assert json.loads(unset)["upstream_us"] is None
    assert json.loads(unset)["time"] == "1970-01-01T00:00:00.000000Z"
    assert json.loads(unset)["code"] is None


def test_each_line_has_its_own_time_across_seconds_and_days():
    # The date is made once per second and reused: lines of other seconds, earlier ones
    # too (a batch from two workers' clocks), must never get a stale one.
    moments = [
        1764748799_999999_999,  # a day's last microsecond
        1764748800_000000_000,
        1764748800_000001_499,
        1764748799_000000_001,  # back in time
        4102444800_500000_000,  # 2100
    ]
    for moment in moments:
        made = access_log.line(moment, "-", None, "GET", "-", "-", "-", 200, None, 0, 0, None, 0)
        expected = datetime.fromtimestamp(moment // 10**9, UTC)
        expected += timedelta(microseconds=moment // 1000 % 10**6)
        expected = expected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert json.loads(made)["time"] == expected


def finished_call(request_id: str) -> None:
    """A call as proxy/call_record.py records it, with no API matched."""
    call = CallRecord()
    call.status, call.request_id = 200, request_id
    record(SimpleNamespace(prefix=""), {"method": "GET", "path": "/nowhere"}, call)


@pytest.mark.parametrize("off", ["off", "OFF", " off ", ""])
def test_off_is_never_a_file_even_for_lines_queued_before_it(settings, tmp_path, monkeypatch, off):
    monkeypatch.chdir(tmp_path)
    logged = tmp_path / "access.log"
    settings.GATEWAY_REQUEST_LOG = str(logged)
    assert switches.switches.log_destination == str(logged)

    async def on_a_worker_loop() -> None:  # where a call's line waits for its batch
        finished_call("before")
        settings.GATEWAY_REQUEST_LOG = off  # before the queued line went out
        assert switches.switches.log_destination is None
        finished_call("after")
        assert not logged.exists()
        call_record.flush()

    asyncio.run(on_a_worker_loop())
    never = (0, "never", None, "GET", "-", "-", "-", 200, None, 5, 5, None, 0)
    access_log.write_lines(off, [access_log.line(*never)])  # even if handed "off" directly
    [entry] = [json.loads(text) for text in logged.read_text().splitlines()]
    assert entry["request_id"] == "before"  # where it was queued for; "after" is not logged
    assert sorted(path.name for path in tmp_path.iterdir()) == ["access.log"]


def test_off_calls_write_no_line_and_create_no_file(published, settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings.GATEWAY_REQUEST_LOG = "off"
    assert published.get("/pets", published.token()).status_code == 200
    call_record.flush()
    assert list(tmp_path.iterdir()) == []


def test_the_switches_follow_setting_changes(settings):
    settings.GATEWAY_METRICS = False
    settings.GATEWAY_ANALYTICS = False
    assert switches.switches.counting is False
    settings.GATEWAY_ANALYTICS = True
    assert switches.switches.counting is True
    settings.GATEWAY_REQUEST_LOG = "stdout"
    settings.GATEWAY_REQUEST_LOG_SAMPLE = 0.0
    assert switches.switches.log_destination is None  # sampling nothing is off


def test_a_batch_is_written_in_whole_lines_each_write_within_the_limit(tmp_path):
    """Lines from several workers never interleave: every write() holds whole lines and
    stays within PIPE_BUF (4 KiB) to a pipe; a line longer than that goes alone."""
    lines = [
        access_log.line(n, "r" * (n % 300), None, "GET", "a", "b", "c", 200, None, 1, 1, None, 0)
        for n in range(500)
    ]
    lines.append(
        access_log.line(1, "x" * 5000, None, "GET", "a", "b", "c", 200, None, 1, 1, None, 0)
    )
    chunks = list(access_log._whole_lines(lines, access_log.BATCH_BYTES))
    assert b"".join(chunks).decode() == "".join(lines)
    for chunk in chunks:
        assert chunk.endswith(b"\n")
        assert len(chunk) <= access_log.BATCH_BYTES or chunk.count(b"\n") == 1


def test_calls_queued_past_a_batch_are_all_written_once_in_order(settings, tmp_path):
    logged = tmp_path / "access.log"
    settings.GATEWAY_REQUEST_LOG = str(logged)
    calls = call_record.BATCH_CALLS * 2 + 7

    async def on_a_worker_loop() -> None:
        for n in range(calls):
            finished_call(f"req-{n}")
        call_record.flush()

    asyncio.run(on_a_worker_loop())
    ids = [json.loads(text)["request_id"] for text in logged.read_text().splitlines()]
    assert ids == [f"req-{n}" for n in range(calls)]
