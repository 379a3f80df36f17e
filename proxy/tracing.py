"""W3C Trace Context on proxied calls, and OpenTelemetry export when configured.

Every proxied call belongs to a trace: an incoming `traceparent` (version 00 syntax,
non-zero ids) is continued, anything else starts a new trace. The upstream gets a
`traceparent` naming the gateway's upstream-call span as its parent; `tracestate`
passes through untouched. With OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, sampled calls are exported over OTLP/HTTP
as three spans: "gateway" (server), "decide" and "upstream" (client), children of
the caller's span. Off by default: then the SDK is never imported.

Span ids are chosen here, before the call, so the header sent upstream is known
before the spans exist; spans are built once the call is over, off the hot path
of an unsampled or unexported call.
"""

import logging
import os
import random
import re
import threading

from django.conf import settings

from proxy import switches

logger = logging.getLogger(__name__)
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
# Ids need uniqueness, not secrecy; reseeded in each forked worker so no two share a sequence.
_random = random.Random()
os.register_at_fork(after_in_child=_random.seed)


class TraceContext:
    """A call's place in its trace. The gateway's own ids come from one random draw and are
    written out as hex only when something reads them (the upstream's traceparent, a log
    line, an exported span): a refused, unlogged call never formats them."""

    __slots__ = ("_bits", "_hex", "flags", "incoming_trace_id", "parent_id")

    def __init__(self, bits: int, incoming_trace_id: str | None, parent_id: str | None, flags: str):
        self._bits = bits  # 256 random bits: trace id (new traces), span id, upstream span id
        self._hex: str | None = None
        self.incoming_trace_id = incoming_trace_id
        self.parent_id = parent_id  # the caller's span, when continued
        self.flags = flags

    def _ids(self) -> str:
        if self._hex is None:
            self._hex = f"{self._bits:064x}"
        return self._hex

    @property
    def trace_id(self) -> str:
        return self.incoming_trace_id or self._ids()[:32]

    @property
    def span_id(self) -> str:
        """The gateway's server span."""
        return self._ids()[32:48]

    @property
    def upstream_span_id(self) -> str:
        """The upstream call's client span: the upstream's parent."""
        return self._ids()[48:]

    @property
    def sampled(self) -> bool:
        return self.flags == "01"

    def upstream_header(self) -> bytes:
        ids = self._ids()
        return f"00-{self.incoming_trace_id or ids[:32]}-{ids[48:]}-{self.flags}".encode()


def parse(value: str) -> tuple[str, str, str] | None:
    """(trace id, parent id, flags) of a valid traceparent, else None (a new trace)."""
    found = _TRACEPARENT.fullmatch(value.strip())
    if found is None:
        return None
    version, trace_id, parent_id, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return trace_id, parent_id, flags


def _span_id() -> str:
    return f"{_random.getrandbits(64) or 1:016x}"


def begin(incoming: str | None) -> TraceContext:
    """The call's trace context from its `traceparent` header, if any (repeated headers
    arrive joined by ", ", which never parses: two traceparents, neither is trusted)."""
    # One draw for all three ids (an all-zero id has odds of 2^-64: not worth a check).
    bits = _random.getrandbits(256)
    parsed = parse(incoming) if incoming and "," not in incoming else None
    if parsed is None:
        return TraceContext(bits, None, None, "01")
    trace_id, parent_id, flags = parsed
    # Only the sampled bit is defined for version 00; the rest is dropped.
    return TraceContext(bits, trace_id, parent_id, "01" if int(flags, 16) & 1 else "00")


def propagate(scope: dict, context: TraceContext, replace: bool) -> None:
    """Give the upstream the gateway's `traceparent` (rewrites scope["headers"]); `replace`
    when the caller sent one of its own."""
    pair = (b"traceparent", context.upstream_header())
    headers = scope["headers"]
    if replace:
        headers = [p for p in headers if p[0] != b"traceparent"]
        headers.append(pair)
        scope["headers"] = headers
    else:
        scope["headers"] = [*headers, pair]


# --- Export ---------------------------------------------------------------------------

_exporter_lock = threading.Lock()
_processor = None
_resource = None


def export_enabled() -> bool:
    return switches.switches.export


def _span_processor():
    global _processor, _resource
    if _processor is None:
        with _exporter_lock:
            if _processor is None:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )
                from opentelemetry.sdk.resources import Resource
                from opentelemetry.sdk.trace.export import BatchSpanProcessor

                endpoint = settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or (
                    settings.OTEL_EXPORTER_OTLP_ENDPOINT.rstrip("/") + "/v1/traces"
                )
                _resource = Resource.create({"service.name": settings.OTEL_SERVICE_NAME})
                _processor = BatchSpanProcessor(
                    OTLPSpanExporter(endpoint=endpoint), schedule_delay_millis=1000
                )
    return _processor


def flush_export(timeout_millis: int = 5000) -> None:
    if _processor is not None:
        _processor.force_flush(timeout_millis)


def export(context: TraceContext, facts: dict) -> None:
    """Hand the call's spans to the batch exporter (a background thread sends them).

    `facts`: start/end/decided/upstream_start/upstream_end as Unix nanoseconds (the
    last three may be None), and attributes: method, route, api, application, status,
    code, request_id.
    """
    if not context.sampled or not export_enabled():
        return
    try:
        _export(context, facts)
    except Exception:
        logger.warning("Could not export the spans of a call", exc_info=True)


def _export(context: TraceContext, facts: dict) -> None:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    processor = _span_processor()
    trace_id = int(context.trace_id, 16)
    flags = TraceFlags(int(context.flags, 16))

    def span_context(span_id: str, remote: bool = False) -> SpanContext:
        return SpanContext(trace_id, int(span_id, 16), is_remote=remote, trace_flags=flags)

    server = span_context(context.span_id)
    parent = span_context(context.parent_id, remote=True) if context.parent_id else None
    status = facts["status"]
    attributes = {
        "http.request.method": facts["method"],
        "http.response.status_code": status,
        "http.route": facts["route"].partition(" ")[2] or facts["route"],
        "gatekeep.api": facts["api"],
        "gatekeep.application": facts["application"],
        "gatekeep.request_id": facts["request_id"],
    }
    if facts["code"]:
        attributes["error.type"] = facts["code"]
    spans = [
        ReadableSpan(
            # "GET /pets/{id}": method and route template (OpenTelemetry's HTTP server span name).
            name=facts["route"] if facts["route"] != "-" else facts["method"],
            context=server,
            parent=parent,
            resource=_resource,
            attributes=attributes,
            kind=SpanKind.SERVER,
            status=Status(StatusCode.ERROR) if status >= 500 else Status(StatusCode.UNSET),
            start_time=facts["start"],
            end_time=facts["end"],
        )
    ]
    decided = facts.get("decided") or facts["end"]
    spans.append(
        ReadableSpan(
            name="decide",
            context=span_context(_span_id()),
            parent=server,
            resource=_resource,
            attributes={"gatekeep.outcome": facts["code"] or "allowed"},
            kind=SpanKind.INTERNAL,
            start_time=facts["start"],
            end_time=decided,
        )
    )
    if facts.get("upstream_start") is not None:
        spans.append(
            ReadableSpan(
                name="upstream",
                context=span_context(context.upstream_span_id),
                parent=server,
                resource=_resource,
                attributes={"gatekeep.api": facts["api"], "http.request.method": facts["method"]},
                kind=SpanKind.CLIENT,
                status=Status(StatusCode.ERROR)
                if facts["code"] in ("upstream_timeout", "upstream_unavailable")
                else Status(StatusCode.UNSET),
                start_time=facts["upstream_start"],
                end_time=facts.get("upstream_end") or facts["end"],
            )
        )
    for span in spans:
        processor.on_end(span)
