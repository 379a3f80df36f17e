"""Proxied calls (ASGI): route, token, application, scopes, then the upstream, streamed.

proxy/asgi.py hands every path under GATEWAY_PREFIX here. The decision
(proxy/pipeline.py) is synchronous and pure in steady state: everything it needs
is in memory, so it runs on the event loop. When it needs a key fetch or a DB
read (an unknown kid, keys never loaded) the key store says so and the decision
re-runs in a worker thread; other calls on the loop carry on. No database query
happens on the event loop (tests/proxy/test_zero_queries.py).
"""

import asyncio
import hashlib
import io
import logging
import re
from urllib.parse import unquote_plus

from django.conf import settings

from authservers.keystore import NeedsBlockingIO
from core.client_address import client_from, is_trusted_proxy, trusted_proxies
from core.hosts import host_listed
from core.request_ids import request_id_for
from proxy.body import ClientBody, ClientGone, ClientTooSlow
from proxy.config import config_holder
from proxy.errors import (
    GatewayError,
    InvalidRequest,
    IssuerUnavailable,
    LoopDetected,
    RequestTimeout,
)
from proxy.forward import (
    UpstreamRequest,
    check_status,
    first_chunk,
    relay_body,
    request_headers,
    response_headers,
    send,
    upstream_client,
    upstream_path,
)
from proxy.headers import claim_header_value
from proxy.identify import FORM_PEEK_BYTES, is_form
from proxy.pipeline import Decision, decide
from proxy.responses import send_error
from proxy.tokens import verified_tokens
from proxy.upstream import UpstreamFailure

logger = logging.getLogger("gatekeep.proxy")
config_holder.listeners.append(verified_tokens.clear)
_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
)


def via_pseudonym() -> str:
    """This deployment's name in Via: seeing it on an incoming request means a loop.

    Derived from SECRET_KEY, so every node of one deployment shares it and another
    Gatekeep deployment in front or behind does not.
    """
    digest = hashlib.sha256(("gatekeep-via:" + settings.SECRET_KEY).encode()).hexdigest()
    return f"gatekeep-{digest[:10]}"


class GatewayApp:
    def __init__(self, prefix: str | None = None):
        self.prefix = (prefix or settings.GATEWAY_PREFIX).rstrip("/")
        self.trusted_proxies = trusted_proxies()
        self.public_hosts = frozenset(host.lower() for host in settings.GATEWAY_PUBLIC_HOSTS)
        self.via = via_pseudonym()

    async def __call__(self, scope: dict, receive, send_message) -> None:
        environ = wsgi_like_environ(scope)
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        body = ClientBody(receive, environ, settings.GATEWAY_CLIENT_BODY_TIMEOUT)
        soap = False
        try:
            if self.via in environ.get("HTTP_VIA", ""):
                raise LoopDetected("This request already passed through this gateway.")
            if b"%2f" in scope["raw_path"].lower():
                # An encoded slash: routing sees a separator, some upstreams and front
                # proxies a character of one segment (proxy/canonical.py).
                raise InvalidRequest("The path contains an encoded slash (%2F).", check="route")
            path = scope["path"][len(self.prefix) :]
            config = config_holder.snapshot()
            if config is None:
                config = await self._load_config()
            if is_form(environ):
                # RFC 6750 §2.2: a form body may carry the token; look at its head first.
                environ["wsgi.input"] = io.BytesIO(await body.peek(FORM_PEEK_BYTES))
                environ["wsgi.input_terminated"] = True  # the peeked bytes end where they end
            try:
                decision = decide(config, environ, path)
            except NeedsBlockingIO:
                loop = asyncio.get_running_loop()
                decision = await loop.run_in_executor(None, decide, config, environ, path)
            soap = decision.api.soap
            await self._forward(scope, environ, body, send_message, decision, path, request_id)
        except GatewayError as error:
            soap = soap or error.soap
            await send_error(
                send_message, error, request_id, environ.get("CONTENT_TYPE", "") if soap else None
            )
        except ClientTooSlow:
            await send_error(
                send_message,
                RequestTimeout("The request body did not arrive in time."),
                request_id,
                None,
                close=True,
            )
        except (ClientGone, UpstreamFailure):
            pass  # nobody left to answer, or the response was already under way
        except Exception:
            logger.exception("Unexpected error on request %s", request_id)
            await send_error(send_message, GatewayError(), request_id, None)

    @staticmethod
    async def _load_config():
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, config_holder.current)
        except Exception:
            logger.exception("No gateway configuration could be loaded")
            raise IssuerUnavailable("The gateway configuration is unavailable.") from None

    async def _forward(
        self, scope, environ, body, send_message, decision: Decision, path, request_id
    ):
        api, policy = decision.api, decision.api.policy
        # Claim headers are the gateway's to set: a client's copy never passes, even
        # when the token lacks the claim and the gateway sets nothing in its place.
        drop = {header.lower() for _, header in policy.forward_claims}
        drop_cookies = set()
        if not policy.forward_authorization:
            if policy.identity_source == "header":
                drop.add(policy.identity_name.lower())
            elif policy.identity_source == "cookie":
                drop_cookies.add(policy.identity_name)
        headers = request_headers(scope["headers"], drop, drop_cookies)
        headers.extend(self._forwarding_headers(scope, environ, request_id))
        self._identity_headers(headers, decision)
        framing, chunked = body.framing()
        headers.extend(framing)
        query = environ["QUERY_STRING"]
        if policy.identity_source == "query" and not policy.forward_authorization:
            query = _without_param(query, policy.identity_name)
        target = upstream_path(
            api, decision.segments, path.endswith("/") and bool(decision.segments), query
        )
        stream = await body.stream() if body.expected else None
        client = upstream_client()
        response = await send(
            client, api, UpstreamRequest(scope["method"], target, headers, stream, chunked)
        )
        try:
            status = check_status(response)
            out_headers = response_headers(response)
            first = await first_chunk(response)
            out_headers.append((b"x-request-id", request_id.encode()))
            await send_message(
                {"type": "http.response.start", "status": status, "headers": out_headers}
            )
            await relay_body(response, first, send_message)
        finally:
            response.close()

    def _forwarding_headers(self, scope, environ, request_id: str) -> list[tuple[str, str]]:
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
        if self._acceptable_host(host):
            headers.append(("x-forwarded-host", host))
        return headers

    def client_address(self, scope, environ) -> str:
        """The client's address: the peer, or the first hop a trusted load balancer names."""
        found = client_from(
            environ["REMOTE_ADDR"], environ.get("HTTP_X_FORWARDED_FOR", ""), self.trusted_proxies
        )
        return found or environ["REMOTE_ADDR"]

    def host_is_ours(self, scope) -> bool:
        if not self.public_hosts:
            return True
        for name, value in scope["headers"]:
            if name == b"host":
                return self._acceptable_host(value.decode("latin-1"))
        return False

    def _acceptable_host(self, host: str) -> bool:
        """A Host worth telling the upstream: well-formed and, when configured, one of ours."""
        return (
            bool(host)
            and _HOST.fullmatch(host) is not None
            and host_listed(host, self.public_hosts)
        )

    @staticmethod
    def _identity_headers(headers: list[tuple[str, str]], decision: Decision) -> None:
        if decision.application is not None:
            name = claim_header_value(decision.application.name) or ""
            headers.append(("x-gateway-application", name))
        if decision.token is None:
            return
        subject = claim_header_value(decision.token.claims.get("sub"))
        if subject:
            headers.append(("x-gateway-subject", subject))
        for claim, header in decision.api.policy.forward_claims:
            value = claim_header_value(decision.token.claims.get(claim))
            if value is not None:
                headers.append((header.lower(), value))


def wsgi_like_environ(scope: dict) -> dict:
    """The CGI-style view of the request the decision functions read (headers as HTTP_*).

    Repeated headers are joined with ", " as WSGI servers do, so a second
    Authorization header is visible as a comma (docs/security.md, Token rules A2).
    """
    client = scope.get("client")
    environ = {
        "REQUEST_METHOD": scope["method"],
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "REMOTE_ADDR": client[0] if client else "",
    }
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        if name == "content-type":
            key = "CONTENT_TYPE"
        elif name == "content-length":
            key = "CONTENT_LENGTH"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        previous = environ.get(key)
        environ[key] = value if previous is None else f"{previous}, {value}"
    return environ


def _without_param(query: str, name: str) -> str:
    """The query without `name`, however its name is spelled (`gk%2Dtoken`, `gk+token`…)."""
    return "&".join(
        part for part in query.split("&") if unquote_plus(part.split("=", 1)[0]) != name
    )
