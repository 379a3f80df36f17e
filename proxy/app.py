"""Proxied calls (ASGI): route, token, application, scopes, then the upstream, streamed.

proxy/asgi.py hands every path under GATEWAY_PREFIX here. The decision
(proxy/pipeline.py) is synchronous and pure in steady state: everything it needs
is in memory, so it runs on the event loop. When it needs a key fetch or a DB
read (an unknown kid, keys never loaded) the key store says so and the decision
re-runs in a worker thread; other calls on the loop carry on. No database query
happens on the event loop (tests/proxy/test_zero_queries.py).
"""

import asyncio
import io
import logging
from time import perf_counter_ns

from django.conf import settings

from authservers.keystore import NeedsBlockingIO
from core.client_address import client_from
from core.hot_settings import hot
from core.request_ids import request_id_for
from proxy.balancing import balanced_send
from proxy.body import ClientBody, ClientGone, ClientTooSlow
from proxy.call_record import CallRecord, record
from proxy.config import config_holder
from proxy.errors import (
    GatewayError,
    InvalidRequest,
    IssuerUnavailable,
    LoopDetected,
    RequestTimeout,
)
from proxy.forward import (
    Forwarding,
    check_status,
    first_chunk,
    proxied_request,
    relay_body,
    response_headers,
    upstream_client,
)
from proxy.identify import FORM_PEEK_BYTES, is_form
from proxy.pipeline import Decision, decide
from proxy.rate_limits import admit
from proxy.responses import send_error, send_response
from proxy.stages.cors import Answered
from proxy.stages.request_limits import check_body
from proxy.tokens import verified_tokens
from proxy.tracing import propagate
from proxy.upstream import UpstreamFailure

logger = logging.getLogger("gatekeep.proxy")
config_holder.listeners.append(verified_tokens.clear)


class GatewayApp:
    def __init__(self, prefix: str | None = None):
        self.prefix = (prefix or settings.GATEWAY_PREFIX).rstrip("/")
        # Trusted proxies, public hosts and this deployment's Via name (proxy/forward.py).
        self.forwarding = Forwarding.from_settings()

    async def __call__(self, scope: dict, receive, send_message) -> None:
        # Metrics, access log, analytics, tracing: noted on `call`, recorded once at the end
        # (proxy/call_record.py).
        call = CallRecord()
        environ = wsgi_like_environ(scope)
        call.begin_trace(environ)
        call.request_id = request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        body = ClientBody(receive, environ, hot.GATEWAY_CLIENT_BODY_TIMEOUT)
        soap = False
        try:
            if self.forwarding.via in environ.get("HTTP_VIA", ""):
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
            call.decided(decision)
            # Rate limits and quotas (proxy/rate_limits.py): 429, or the headers to add.
            limits = await admit(config.traffic, decision, environ, self.forwarding.trusted_proxies)
            await self._forward(
                scope, environ, body, send_message, decision, path, request_id, limits, call
            )
        except Answered as answer:  # a CORS preflight (proxy/stages/cors.py)
            call.status = answer.status
            await send_response(send_message, answer.status, answer.headers, b"")
        except GatewayError as error:
            call.refused(error)
            soap = soap or error.soap
            # Stage 6: a refusal carries the CORS headers too, so the page can read it.
            error.headers.update(environ.get("gatekeep.response_headers", ()))
            call.status, call.bytes_sent = await send_error(
                send_message, error, request_id, environ.get("CONTENT_TYPE", "") if soap else None
            )
        except ClientTooSlow:
            call.status, call.bytes_sent = await send_error(
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
            call.status, call.bytes_sent = await send_error(
                send_message, GatewayError(), request_id, None
            )
        finally:
            record(self, scope, call)

    @staticmethod
    async def _load_config():
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, config_holder.current)
        except Exception:
            logger.exception("No gateway configuration could be loaded")
            raise IssuerUnavailable("The gateway configuration is unavailable.") from None

    async def _forward(
        self,
        scope,
        environ,
        body,
        send_message,
        decision: Decision,
        path,
        request_id,
        limits,
        call: CallRecord,
    ):
        await check_body(decision.api.chain.limits, body)  # stage 3: a body within the limit
        framing = body.framing()
        stream = await body.stream() if body.expected else None
        propagate(scope, call.trace, call.traceparent_in)  # the upstream's traceparent
        request = proxied_request(
            scope, environ, decision, path, request_id, self.forwarding, framing, stream
        )
        call.upstream_start = perf_counter_ns()
        try:
            response = await balanced_send(upstream_client(), decision.api, request)  # stage 4
        finally:
            call.upstream_end = perf_counter_ns()
        try:
            status = check_status(response)
            out_headers = decision.api.chain.response_headers(
                decision, environ, response_headers(response)
            )
            first = await first_chunk(response)
            out_headers.append((b"x-request-id", request_id.encode()))
            out_headers.extend(limits)
            call.status = status
            await send_message(
                {"type": "http.response.start", "status": status, "headers": out_headers}
            )
            await relay_body(response, first, send_message, call)
        finally:
            response.close()

    def client_address(self, scope, environ) -> str:
        """The client's address: the peer, or the first hop a trusted load balancer names."""
        found = client_from(
            environ["REMOTE_ADDR"],
            environ.get("HTTP_X_FORWARDED_FOR", ""),
            self.forwarding.trusted_proxies,
        )
        return found or environ["REMOTE_ADDR"]

    def host_is_ours(self, scope) -> bool:
        if not self.forwarding.public_hosts:
            return True
        for name, value in scope["headers"]:
            if name == b"host":
                return self.forwarding.acceptable_host(value.decode("latin-1"))
        return False


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
        "gatekeep.headers": scope["headers"],  # as received, for the request limits
    }
    for raw_name, raw_value in scope["headers"]:
        try:
            key = _ENVIRON_KEYS[raw_name]
        except KeyError:
            key = _environ_key(raw_name)
        if key in environ:
            environ[key] = f"{environ[key]}, {raw_value.decode('latin-1')}"
        else:
            environ[key] = raw_value.decode("latin-1")
    return environ


# Header name → environ key, for the names seen so far (bounded: names are the client's).
_ENVIRON_KEYS: dict[bytes, str] = {}


def _environ_key(raw_name: bytes) -> str:
    name = raw_name.decode("latin-1")
    if name == "content-type":
        key = "CONTENT_TYPE"
    elif name == "content-length":
        key = "CONTENT_LENGTH"
    else:
        key = "HTTP_" + name.upper().replace("-", "_")
    if len(_ENVIRON_KEYS) < 1024:
        _ENVIRON_KEYS[raw_name] = key
    return key
