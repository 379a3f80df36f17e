"""Request limits: header count and size (431), body size (413), content type (415),
all refused before the upstream is contacted.

The head is checked in stage 1. A declared Content-Length over the limit is refused
there too; a body without one (chunked) is read up to the limit in stage 3 before
the upstream is called, so a body that lies about its size never reaches it.
"""

import sys
from dataclasses import dataclass
from itertools import chain

from proxy.errors import GatewayError, HeaderFieldsTooLarge

from_iterable = chain.from_iterable  # every name and value of the head, in turn


class PayloadTooLarge(GatewayError):
    status, title, code = 413, "Payload too large", "payload_too_large"


class UnsupportedMediaType(GatewayError):
    status, title, code = 415, "Unsupported media type", "unsupported_media_type"


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    max_body_bytes: int | None
    max_header_count: int | None
    max_header_bytes: int | None
    content_types: frozenset[str]  # "type/subtype"
    content_families: frozenset[str]  # "type/" from "type/*"
    header_count_cap: int = sys.maxsize  # max_header_count, or no limit
    header_bytes_cap: int = sys.maxsize  # max_header_bytes, or no limit


def compile_limits(data: dict | None) -> LimitsConfig | None:
    if not data:
        return None
    types = data["content_types"]
    return LimitsConfig(
        max_body_bytes=data["max_body_bytes"],
        max_header_count=data["max_header_count"],
        max_header_bytes=data["max_header_bytes"],
        content_types=frozenset(t for t in types if not t.endswith("/*")),
        content_families=frozenset(t[:-1] for t in types if t.endswith("/*")),
        header_count_cap=sys.maxsize
        if data["max_header_count"] is None
        else data["max_header_count"],
        header_bytes_cap=sys.maxsize
        if data["max_header_bytes"] is None
        else data["max_header_bytes"],
    )


def check_head(limits: LimitsConfig, environ: dict, trace: list | None) -> None:
    raw = environ.get("gatekeep.headers")
    if raw is not None and (
        len(raw) > limits.header_count_cap
        or sum(map(len, from_iterable(raw))) > limits.header_bytes_cap
    ):
        _refuse_head(limits, raw)
    if "CONTENT_LENGTH" in environ or "HTTP_TRANSFER_ENCODING" in environ:
        _check_declared_body(limits, environ)  # without either, the call has no body
    if trace is not None:
        trace.append({"check": "request_limits", "ok": True, "detail": "Within the limits."})


def _refuse_head(limits: LimitsConfig, raw: list) -> None:
    if len(raw) > limits.header_count_cap:
        raise HeaderFieldsTooLarge(
            f"The request has {len(raw)} header fields; this API accepts at most "
            f"{limits.max_header_count}.",
            check="request_limits",
        )
    size = sum(map(len, from_iterable(raw)))
    raise HeaderFieldsTooLarge(
        f"The request's header fields take {size} bytes; this API accepts at "
        f"most {limits.max_header_bytes}.",
        check="request_limits",
    )


def _check_declared_body(limits: LimitsConfig, environ: dict) -> None:
    length = environ.get("CONTENT_LENGTH", "")
    declared = int(length) if length.isdigit() else None
    has_body = bool(declared) or "HTTP_TRANSFER_ENCODING" in environ
    if (
        limits.max_body_bytes is not None
        and declared is not None
        and declared > limits.max_body_bytes
    ):
        raise PayloadTooLarge(_too_large(limits), check="request_limits")
    if has_body and (limits.content_types or limits.content_families):
        media_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        family = media_type.split("/", 1)[0] + "/"
        if media_type not in limits.content_types and (
            "/" not in media_type or family not in limits.content_families
        ):
            raise UnsupportedMediaType(
                f"This API does not accept request bodies of type {media_type[:80] or '(none)'}.",
                check="request_limits",
            )


async def check_body(limits: LimitsConfig | None, body) -> None:
    """Stage 3: a body without a declared length is read up to the limit first
    (proxy/body.py keeps what was read and sends it on)."""
    if limits is None or not body.expected or limits.max_body_bytes is None:
        return  # no limit, or no body
    if not body.framing()[1]:
        return  # a declared length: stage 1 checked it and the server enforces it
    head = await body.peek(limits.max_body_bytes + 1)
    if len(head) > limits.max_body_bytes:
        raise PayloadTooLarge(_too_large(limits), check="request_limits")


def _too_large(limits: LimitsConfig) -> str:
    return f"The request body is larger than this API accepts ({limits.max_body_bytes} bytes)."
