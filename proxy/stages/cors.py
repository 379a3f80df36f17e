"""CORS (Fetch standard, "CORS protocol"): which origins may call an API from a browser.

Origins are compared as whole serialized origins: an exact origin matches exactly;
`https://*.example.com` matches a host that ends in ".example.com" at a label
boundary, same scheme and port (never `example.com.evil.net` or `evilexample.com`).
`Origin: null` (sandboxed frames, file: pages, redirects) never matches, even "*".
"""

import re
from dataclasses import dataclass, field

from proxy.errors import GatewayError

_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]{1,253}|\[[0-9a-f:.]{2,45}\])(?::(\d{1,5}))?\Z")
SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})
_PREFLIGHT = "HTTP_ACCESS_CONTROL_REQUEST_METHOD"  # an OPTIONS call with it is a preflight


class Answered(Exception):
    """A complete answer of the gateway itself (a CORS preflight): sent as is."""

    def __init__(self, status: int, headers: list[tuple[str, str]]):
        super().__init__(status)
        self.status = status
        self.headers = headers


class OriginNotAllowed(GatewayError):
    status, title, code = 403, "Origin not allowed", "cors_origin_not_allowed"


@dataclass(frozen=True, slots=True)
class CorsConfig:
    any_origin: bool
    exact: frozenset[str]
    patterns: tuple[tuple[str, str, str], ...]  # (scheme, ".suffix", port)
    methods: str  # comma-joined, for the preflight answer
    method_set: frozenset[str]
    headers: str
    header_set: frozenset[str]  # lower-case
    exposed: str
    credentials: bool
    max_age: str
    # The headers of an actual call's response per exact origin, worked out at compile
    # time: as text (an error's headers) and as the ASGI server wants them.
    answers: dict = field(default_factory=dict)

    def answer(self, origin: str) -> "CorsAnswer | None":
        """The headers for an allowed origin's actual call; None for any other origin."""
        found = self.answers.get(origin)
        if found is None and self.allows(origin):
            found = _answer(self, origin)
        return found

    def allows(self, origin: str) -> bool:
        if origin in self.exact:
            return True
        parsed = _ORIGIN.match(origin)
        if parsed is None:
            return False  # "null", paths, userinfo, upper case, garbage
        if self.any_origin:
            return True
        scheme, host, port = parsed.group(1), parsed.group(2), parsed.group(3) or ""
        for pattern_scheme, suffix, pattern_port in self.patterns:
            if (
                scheme == pattern_scheme
                and port == pattern_port
                and host.endswith(suffix)
                and len(host) > len(suffix)
                and not host[: -len(suffix)].endswith(".")
            ):
                return True
        return False


@dataclass(frozen=True, slots=True)
class CorsAnswer:
    allowed: tuple[tuple[str, str], ...]  # Allow-Origin and Allow-Credentials
    text: tuple[tuple[str, str], ...]  # everything an actual call's response gets
    raw: tuple[tuple[bytes, bytes], ...]


VARY = (("Vary", "Origin"),)
VARY_RAW = ((b"vary", b"Origin"),)


def _answer(cors: CorsConfig, origin: str) -> CorsAnswer:
    allowed = [("Access-Control-Allow-Origin", origin)]
    if cors.credentials:
        allowed.append(("Access-Control-Allow-Credentials", "true"))
    text = list(allowed)
    if cors.exposed:
        text.append(("Access-Control-Expose-Headers", cors.exposed))
    text.extend(VARY)
    raw = tuple((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in text)
    return CorsAnswer(tuple(allowed), tuple(text), raw)


def compile_cors(data: dict | None) -> CorsConfig | None:
    if not data:
        return None
    exact, patterns = set(), []
    for origin in data["origins"]:
        if origin.startswith(("http://*.", "https://*.")):
            scheme, rest = origin.split("://*.", 1)
            host, _, port = rest.partition(":")
            patterns.append((scheme, "." + host, port))
        elif origin != "*":
            exact.add(origin)
    cors = CorsConfig(
        any_origin="*" in data["origins"],
        exact=frozenset(exact),
        patterns=tuple(patterns),
        methods=", ".join(data["methods"]),
        method_set=frozenset(data["methods"]),
        headers=", ".join(data["headers"]),
        header_set=frozenset(name.lower() for name in data["headers"]),
        exposed=", ".join(data["exposed"]),
        credentials=data["credentials"],
        max_age=str(data["max_age"]),
    )
    for origin in cors.exact:
        if cors.allows(origin):
            cors.answers[origin] = _answer(cors, origin)
    return cors


def apply_cors(cors: CorsConfig, environ: dict, trace: list | None) -> None:
    """Stage 1: answer a preflight; for an actual call, remember the response headers.

    A disallowed origin gets no CORS header at all (its page cannot read the answer);
    its preflight is refused with a 403 the browser will not pass on to the page.
    """
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        if trace is not None:
            trace.append({"check": "cors", "ok": True, "detail": "Not a cross-origin call."})
        return
    # An exact origin's answer was worked out at compile time.
    answer = cors.answers.get(origin) or cors.answer(origin)
    if answer is None:
        environ["gatekeep.response_headers"] = VARY
        environ["gatekeep.cors"] = VARY_RAW
        if _PREFLIGHT in environ and environ["REQUEST_METHOD"] == "OPTIONS":
            raise OriginNotAllowed(
                "This origin may not call the API from a browser.",
                check="cors",
                headers=dict(VARY),
            )
        _trace(trace, True, f"Origin {origin[:100]} is not allowed: no CORS headers.")
        return
    if _PREFLIGHT in environ and environ["REQUEST_METHOD"] == "OPTIONS":
        _preflight(cors, answer, origin, environ, trace)
    environ["gatekeep.response_headers"] = answer.text
    environ["gatekeep.cors"] = answer.raw
    if trace is not None:
        _trace(trace, True, f"Origin {origin[:100]} is allowed.")


def _preflight(cors: CorsConfig, answer: CorsAnswer, origin: str, environ: dict, trace) -> None:
    """Answer an allowed origin's preflight (raises Answered) or refuse it."""
    environ["gatekeep.response_headers"] = VARY
    requested = environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"].strip()
    asked_headers = {
        name.strip().lower()
        for name in environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").split(",")
        if name.strip()
    }
    if requested not in cors.method_set and requested not in SAFELISTED_METHODS:
        raise OriginNotAllowed(
            f"The method {requested[:20]} may not be used cross-origin.",
            check="cors",
            headers=dict(VARY),
        )
    if not asked_headers <= cors.header_set:
        raise OriginNotAllowed(
            "A requested header may not be sent cross-origin.",
            check="cors",
            headers=dict(VARY),
        )
    headers = [
        *answer.allowed,
        ("Access-Control-Allow-Methods", cors.methods),
        ("Access-Control-Max-Age", cors.max_age),
        *VARY,
        ("Content-Length", "0"),
    ]
    if cors.headers:
        headers.append(("Access-Control-Allow-Headers", cors.headers))
    _trace(trace, True, f"Preflight from {origin[:100]} answered by the gateway.")
    raise Answered(204, headers)


def _trace(trace: list | None, ok: bool, detail: str) -> None:
    if trace is not None:
        trace.append({"check": "cors", "ok": ok, "detail": detail})
