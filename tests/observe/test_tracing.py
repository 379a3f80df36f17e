"""W3C trace context: continued upstream, new when absent or invalid; OTLP export to a
real OTLP/HTTP receiver on loopback."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from proxy import tracing

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def upstream_traceparent(published) -> tuple[str, str, str, str]:
    return tuple(published.upstream.last["headers"]["traceparent"].split("-"))


def test_an_incoming_traceparent_is_continued_upstream(published):
    response = published.get(
        "/pets", published.token(), headers={"traceparent": f"00-{TRACE}-{PARENT}-01"}
    )
    assert response.status_code == 200
    version, trace_id, parent_id, flags = upstream_traceparent(published)
    assert (version, trace_id, flags) == ("00", TRACE, "01")
    assert parent_id != PARENT  # the gateway's own span is the upstream's parent
    assert len(parent_id) == 16 and parent_id != "0" * 16


def test_tracestate_passes_through_and_unsampled_stays_unsampled(published):
    published.get(
        "/pets",
        published.token(),
        headers={"traceparent": f"00-{TRACE}-{PARENT}-00", "tracestate": "vendor=abc"},
    )
    assert upstream_traceparent(published)[3] == "00"
    assert published.upstream.last["headers"]["tracestate"] == "vendor=abc"


@pytest.mark.parametrize(
    "incoming",
    [
        None,
        f"00-{'0' * 32}-{PARENT}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE.upper()}-{PARENT}-01",  # upper case
        f"ff-{TRACE}-{PARENT}-01",  # forbidden version
        f"00-{TRACE}-{PARENT}-01-extra",  # version 00 has exactly four fields
        "garbage",
    ],
)
def test_anything_else_starts_a_new_trace(published, incoming):
    headers = {"traceparent": incoming} if incoming else {}
    assert published.get("/pets", published.token(), headers=headers).status_code == 200
    got = published.upstream.last["header_list"]
    assert [name.lower() for name, _ in got].count("traceparent") == 1
    version, trace_id, parent_id, flags = upstream_traceparent(published)
    assert version == "00" and flags == "01"
    assert len(trace_id) == 32 and trace_id not in (TRACE, "0" * 32)
    assert len(parent_id) == 16


def test_a_future_version_is_read_by_its_version_00_prefix():
    assert tracing.parse(f"01-{TRACE}-{PARENT}-01-whatever") == (TRACE, PARENT, "01")


class OtlpReceiver:
    """A minimal OTLP/HTTP collector: records every ExportTraceServiceRequest it is sent."""

    def __init__(self):
        self.requests: list[ExportTraceServiceRequest] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/traces":
                    message = ExportTraceServiceRequest()
                    message.ParseFromString(body)
                    owner.requests.append(message)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list:
        return [
            span
            for request in self.requests
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def receiver(settings, monkeypatch):
    found = OtlpReceiver()
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = found.url
    monkeypatch.setattr(tracing, "_processor", None)  # a fresh exporter for this endpoint
    yield found
    tracing.flush_export()
    found.stop()


def test_spans_are_exported_over_otlp_when_configured(published, receiver):
    response = published.get(
        "/pets/3", published.token(), headers={"traceparent": f"00-{TRACE}-{PARENT}-01"}
    )
    assert response.status_code == 200
    upstream_parent = upstream_traceparent(published)[2]
    deadline = time.monotonic() + 10
    while len(receiver.spans()) < 3 and time.monotonic() < deadline:
        tracing.flush_export()
        time.sleep(0.05)
    spans = {span.name: span for span in receiver.spans()}
    assert set(spans) == {"GET /pets/{id}", "decide", "upstream"}
    server, decide, upstream = spans["GET /pets/{id}"], spans["decide"], spans["upstream"]
    for span in spans.values():
        assert span.trace_id.hex() == TRACE
    assert server.parent_span_id.hex() == PARENT
    assert decide.parent_span_id == server.span_id
    assert upstream.parent_span_id == server.span_id
    assert upstream.span_id.hex() == upstream_parent  # the upstream's parent is this span
    assert server.start_time_unix_nano <= upstream.start_time_unix_nano
    assert upstream.end_time_unix_nano <= server.end_time_unix_nano
    attributes = {item.key: item.value for item in server.attributes}
    assert attributes["http.response.status_code"].int_value == 200
    assert attributes["gatekeep.application"].string_value == "Petstore client"
    assert attributes["http.route"].string_value == "/pets/{id}"
    resource = receiver.requests[0].resource_spans[0].resource
    names = {item.key: item.value.string_value for item in resource.attributes}
    assert names["service.name"] == "gatekeep"


def test_an_unsampled_call_is_not_exported(published, receiver):
    published.get("/pets", published.token(), headers={"traceparent": f"00-{TRACE}-{PARENT}-00"})
    tracing.flush_export()
    time.sleep(0.2)
    assert receiver.spans() == []


def test_nothing_is_exported_by_default(published, settings):
    assert settings.OTEL_EXPORTER_OTLP_ENDPOINT == ""
    assert tracing.export_enabled() is False
