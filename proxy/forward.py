"""Step 6: the call to the upstream, built here and streamed both ways over pooled connections.

The upstream request is assembled in this module only: for a proxied call
(`proxied_request`: target URL, the client's end-to-end headers minus hop-by-hop,
forwarding, override and gateway headers, the token where the policy keeps it
from the upstream, the gateway's own cookies, then X-Forwarded-*, Via and the
identity headers) and for the relay to the control plane (`relayed_request`).

All upstream HTTP goes through here: one asynchronous keep-alive client per
event loop (proxy/upstream.py), connect and read timeouts from the API, failures
reduced to 502/504. The read timeout bounds each read *and* the whole response
head, so an upstream dripping its headers is a 504 after read_timeout seconds.
The first body chunk is read before the status goes to the client, so an
upstream that resets or stalls right after its headers is still a 502/504, not
a truncated 200.
"""

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus
from operator import itemgetter
from urllib.parse import quote, unquote_plus

from django.conf import settings

from core.client_address import TrustedProxies, is_trusted_proxy, trusted_proxies
from core.hosts import host_listed
from core.outbound_policy import refusal_for_address, refusal_for_host
from core.reserved_headers import (
    FORWARDING_HEADERS,
    FRAMING_HEADERS,
    HOP_BY_HOP,
    OVERRIDE_HEADERS,
)
from proxy.config import ApiConfig, Upstream
from proxy.cookies import console_cookie_names, is_reserved_cookie, without_cookies
from proxy.errors import GatewayError, UpstreamTimeout, UpstreamUnavailable
from proxy.headers import (
    GATEWAY_HEADER_PREFIX,
    connection_listed,
    is_hop_by_hop,
    text_header_value,
)
from proxy.pipeline import Decision
from proxy.stages.transform import transform_request
from proxy.upstream import UpstreamClient, UpstreamFailure, UpstreamResponse

logger = logging.getLogger(__name__)
# RFC 9110 §5.1/§5.5: anything else in an upstream's response head would split the
# client's response (or make the server refuse to send it).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(r"[ \t\x21-\x7e\x80-\xff]*")
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
)

# Request headers a client never passes on, whatever the API: framing, forwarding and
# override headers and the hop-by-hop ones, as the bytes the ASGI server hands over.
_NEVER_PASSED = frozenset(
    name.encode("latin-1")
    for name in FRAMING_HEADERS | FORWARDING_HEADERS | OVERRIDE_HEADERS | HOP_BY_HOP
)

_GATEWAY_PREFIX = GATEWAY_HEADER_PREFIX.encode("latin-1")
_first = itemgetter(0)

_clients: dict[int, UpstreamClient] = {}


def upstream_client() -> UpstreamClient:
    """The client of the running event loop (one per loop: its connections belong to it)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(id(loop))
    if client is None:
        client = _clients[id(loop)] = UpstreamClient(
            max_idle_per_origin=settings.GATEWAY_UPSTREAM_POOL_SIZE,
            refuse_address=refusal_for_address,
            refuse_host=refusal_for_host,
        )
    return client


def forget_client() -> None:
    client = _clients.pop(id(asyncio.get_running_loop()), None)
    if client is not None:
        client.close_idle()


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    path_and_query: str
    headers: list[tuple[str, str]]
    body: AsyncIterator[bytes] | None
    chunked: bool


def upstream_path(api: ApiConfig, segments: list[str], trailing_slash: bool, query: str) -> str:
    path = api.upstream.path + "".join(
        "/" + quote(segment, safe="!$&'()*+,=:@~") for segment in segments
    )
    if trailing_slash or not path:
        path += "/"
    return path + ("?" + query if query else "")


def request_headers(
    raw_headers: list[tuple[bytes, bytes]],
    drop: set[str],
    drop_cookies: set[str],
    own_cookies: bool = False,
) -> list[tuple[str, str]]:
    """The client's end-to-end headers, minus hop-by-hop, gateway-reserved and `drop`.

    The gateway's own cookies (console session, CSRF) never reach an upstream; only
    the relay to the control plane passes them (`own_cookies`).
    """
    # All the names as one string, looked at without a Python loop: as an ASGI server
    # sends them (lower case) and without a client's X-Gateway-*, the loop below needs
    # no per-name work for either; otherwise they are put right first.
    names = b"\n".join(map(_first, raw_headers))
    if not names.islower() or _GATEWAY_PREFIX in names:
        raw_headers = [
            (name, value)
            for name, value in ((n.lower(), v) for n, v in raw_headers)
            if not name.startswith(_GATEWAY_PREFIX)
        ]
    listed = None
    headers = []
    for raw_name, raw_value in raw_headers:
        if raw_name in _NEVER_PASSED:
            if raw_name == b"connection":
                listed = connection_listed(raw_value.decode("latin-1")) | (listed or set())
            continue
        name = raw_name.decode("latin-1")
        if name in drop:
            continue
        value = raw_value.decode("latin-1")
        if name == "cookie":
            value = without_cookies(value, drop_cookies, reserved=not own_cookies)
            if not value:
                continue
        headers.append((name, value))
    if listed:  # names the Connection header declared hop-by-hop, wherever they came
        headers = [pair for pair in headers if pair[0] not in listed]
    return headers


def via_pseudonym() -> str:
    """This deployment's name in Via: seeing it on an incoming request means a loop.

    Derived from SECRET_KEY, so every node of one deployment shares it and another
    Gatekeep deployment in front or behind does not.
    """
    digest = hashlib.sha256(("gatekeep-via:" + settings.SECRET_KEY).encode()).hexdigest()
    return f"gatekeep-{digest[:10]}"


@dataclass(frozen=True)
class Forwarding:
    """What the gateway tells an upstream about the client, and the name it passes under."""

    trusted_proxies: TrustedProxies
    public_hosts: frozenset[str]
    via: str

    @classmethod
    def from_settings(cls) -> "Forwarding":
        return cls(
            trusted_proxies(),
            frozenset(host.lower() for host in settings.GATEWAY_PUBLIC_HOSTS),
            via_pseudonym(),
        )

    def acceptable_host(self, host: str) -> bool:
        """A Host worth telling the upstream: well-formed and, when configured, one of ours."""
        return (
            bool(host)
            and _HOST.fullmatch(host) is not None
            and host_listed(host, self.public_hosts)
        )

    def headers(self, scope: dict, environ: dict, request_id: str) -> list[tuple[str, str]]:
        """X-Forwarded-For/-Proto/-Host, X-Request-Id and Via, as this gateway states them."""
        remote = environ["REMOTE_ADDR"]
        forwarded_for = remote
        scheme = scope.get("scheme", "http")
        host = environ.get("HTTP_HOST", "")
        if is_trusted_proxy(remote, self.trusted_proxies):
            # Only a configured load balancer may tell us who the client was.
            prior = environ.get("HTTP_X_FORWARDED_FOR")
            forwarded_for = f"{prior}, {remote}" if prior else remote
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            scheme = proto if proto in {"http", "https"} else scheme
            host = environ.get("HTTP_X_FORWARDED_HOST", host).split(",")[-1].strip()
        prior_via = environ.get("HTTP_VIA")
        via = f"1.1 {self.via}"
        headers = [
            ("x-forwarded-for", forwarded_for),
            ("x-forwarded-proto", scheme),
            ("x-request-id", request_id),
            ("via", f"{prior_via}, {via}" if prior_via else via),
        ]
        if self.acceptable_host(host):
            headers.append(("x-forwarded-host", host))
        return headers


def proxied_request(
    scope: dict,
    environ: dict,
    decision: Decision,
    path: str,
    request_id: str,
    forwarding: Forwarding,
    framing: tuple[list[tuple[str, str]], bool],
    body: AsyncIterator[bytes] | None,
) -> UpstreamRequest:
    """The request the upstream gets for an allowed call (`framing` from ClientBody.framing())."""
    api, policy = decision.api, decision.api.policy
    # Claim headers are the gateway's to set: a client's copy never passes, even
    # when the token lacks the claim and the gateway sets nothing in its place.
    drop = {header.lower() for _, header in policy.forward_claims}
    drop_cookies = set()
    query = environ["QUERY_STRING"]
    if not policy.forward_authorization:
        location = policy.token_location
        if location.in_query:
            query = _without_param(query, location.name)
        elif location.in_cookie:
            drop_cookies.add(location.name)
        else:
            drop.add(location.name.lower())
    headers = request_headers(scope["headers"], drop, drop_cookies)
    headers.extend(forwarding.headers(scope, environ, request_id))
    headers.extend(identity_headers(decision))
    # Stage 3: the API's transformations (proxy/stages/transform.py).
    headers, query = transform_request(api.chain.transforms, decision, headers, query)
    framing_headers, chunked = framing
    headers.extend(framing_headers)
    target = upstream_path(
        api, decision.segments, path.endswith("/") and bool(decision.segments), query
    )
    return UpstreamRequest(scope["method"], target, headers, body, chunked)


def identity_headers(decision: Decision) -> list[tuple[str, str]]:
    """X-Gateway-Application, X-Gateway-Subject and the policy's forwarded claims."""
    headers = []
    application = decision.application
    if application is not None:
        headers.append(("x-gateway-application", text_header_value(application.name) or ""))
    token = decision.token
    if token is None:
        return headers
    subject = token.header_value("sub")
    if subject:
        headers.append(("x-gateway-subject", subject))
    for claim, header in decision.api.policy.forward_claims:
        value = token.header_value(claim)
        if value is not None:
            headers.append((header.lower(), value))
    return headers


def relayed_request(
    scope: dict,
    environ: dict,
    request_id: str,
    client_address: str,
    framing: tuple[list[tuple[str, str]], bool],
    body: AsyncIterator[bytes] | None,
) -> UpstreamRequest:
    """The request the control plane gets for a relayed OAuth2/OpenID call: the raw
    target, the client's headers with the gateway's cookies but not the console's."""
    console_cookies = console_cookie_names(environ.get("HTTP_COOKIE", ""))
    headers = request_headers(scope["headers"], set(), console_cookies, own_cookies=True)
    headers += [
        ("x-forwarded-for", client_address),
        ("x-forwarded-proto", scope.get("scheme", "http")),
        ("x-request-id", request_id),
    ]
    framing_headers, chunked = framing
    headers += framing_headers
    target = scope["raw_path"].decode("latin-1")
    if scope["query_string"]:
        target += "?" + scope["query_string"].decode("latin-1")
    return UpstreamRequest(scope["method"], target, headers, body, chunked)


def _without_param(query: str, name: str) -> str:
    """The query without `name`, however its name is spelled (`gk%2Dtoken`, `gk+token`…)."""
    return "&".join(
        part for part in query.split("&") if unquote_plus(part.split("=", 1)[0]) != name
    )


async def send(client: UpstreamClient, api: ApiConfig, request: UpstreamRequest):
    return await send_to(client, api.upstream, request, api.connect_timeout, api.read_timeout)


async def send_to(
    client: UpstreamClient,
    upstream: Upstream,
    request: UpstreamRequest,
    connect_timeout: float,
    read_timeout: float,
    authority: str | None = None,
) -> UpstreamResponse:
    try:
        return await client.request(
            upstream.scheme,
            upstream.host,
            upstream.port,
            request.method,
            request.path_and_query,
            request.headers,
            body=request.body,
            chunked=request.chunked,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # The whole response head must arrive within the read timeout.
            header_deadline=read_timeout,
            authority=authority,
        )
    except UpstreamFailure as failure:
        raise upstream_error(failure) from None


def upstream_error(failure: UpstreamFailure) -> GatewayError:
    logger.info("Upstream failure (%s): %s", failure.kind, failure)
    if failure.kind == "connect_timeout":
        return UpstreamTimeout(
            "The upstream did not accept the connection in time.", check="forward"
        )
    if failure.kind == "timeout":
        return UpstreamTimeout("The upstream did not answer in time.", check="forward")
    if failure.kind == "refused":
        return UpstreamUnavailable("The upstream refused the connection.", check="forward")
    if failure.kind == "denied":
        return UpstreamUnavailable(
            "The upstream's address is not allowed by this gateway's outbound policy.",
            check="forward",
        )
    return UpstreamUnavailable("The upstream refused or dropped the connection.", check="forward")


_KNOWN_STATUSES = frozenset(status.value for status in HTTPStatus)


def check_status(response: UpstreamResponse) -> int:
    if not 200 <= response.status <= 599:
        # A 101 or an odd code cannot be relayed as is.
        raise UpstreamUnavailable(
            f"The upstream answered with status {response.status}.", check="forward"
        )
    return response.status


def response_headers(
    response: UpstreamResponse, own_cookies: bool = False
) -> list[tuple[bytes, bytes]]:
    """The upstream's end-to-end headers; an invalid header makes the response invalid (502).

    An upstream may not set the gateway's own cookies: such a Set-Cookie is dropped
    (unless `own_cookies`: the control plane's answers relayed by proxy/relay.py).
    """
    listed = connection_listed(
        ",".join(value for name, value in response.headers if name.lower() == "connection")
    )
    chunked = any(
        name.lower() == "transfer-encoding" and "chunked" in value.lower()
        for name, value in response.headers
    )
    headers = []
    for name, value in response.headers:
        if not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            logger.info("Upstream sent an invalid header field %r", name[:100])
            raise UpstreamUnavailable(
                "The upstream sent an invalid response header.", check="forward"
            )
        lowered = name.lower()
        if is_hop_by_hop(lowered, listed):
            continue
        if chunked and lowered == "content-length":
            continue  # chunked framing wins (RFC 9112 §6.3); never relay a conflicting length
        if (
            lowered == "set-cookie"
            and not own_cookies
            and is_reserved_cookie(value.split("=", 1)[0])
        ):
            logger.warning("Upstream tried to set the gateway's cookie %r", value[:40])
            continue
        if lowered in ("x-request-id", "date"):
            continue  # the gateway's own id goes back; the server sends its one Date
        headers.append((lowered.encode("latin-1"), value.encode("latin-1")))
    return headers


async def first_chunk(response: UpstreamResponse) -> bytes | None:
    """The first body piece, so a reset or stall right after the head is still a 502/504."""
    try:
        return await response.next_chunk()
    except UpstreamFailure as failure:
        raise upstream_error(failure) from None


async def relay_body(response: UpstreamResponse, first: bytes | None, send, call=None) -> None:
    """Stream the rest of the body to the client; `send` waits while the client is slow.
    Each piece the client was sent adds to `call.bytes_sent` (the access log's
    `bytes_sent`), so a body cut short counts what really went out."""
    try:
        chunk = first
        while chunk is not None:
            if response.finished:
                # The whole body is here (the usual small answer): one write, one message.
                await send({"type": "http.response.body", "body": chunk, "more_body": False})
                if call is not None:
                    call.bytes_sent += len(chunk)
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if call is not None:
                call.bytes_sent += len(chunk)
            chunk = await response.next_chunk()
    except UpstreamFailure as failure:
        # Headers are already sent: all we can do is cut the response short.
        logger.warning("Upstream response broke off: %s", failure)
        raise
    await send({"type": "http.response.body", "body": b"", "more_body": False})
