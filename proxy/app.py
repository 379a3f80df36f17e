"""The gateway's WSGI application: proxied traffic never enters Django's request cycle.

gateway_admin.wsgi hands every path under GATEWAY_PREFIX here. Skipping Django's
middleware and URL resolver keeps the hot path to route look-up, token check and
one pooled upstream call; nothing here touches the database in steady state.
"""

import ipaddress
import logging
import uuid

from django.conf import settings

from .config import config_holder
from .errors import GatewayError, IssuerUnavailable, render_error
from .forward import (
    ResponseBody,
    UpstreamRequest,
    request_body,
    request_headers,
    response_headers,
    send,
    status_line,
    upstream_path,
)
from .headers import claim_header_value, safe_request_id
from .pipeline import Decision, decide
from .tokens import verified_tokens

logger = logging.getLogger("gatekeep.proxy")
config_holder.listeners.append(verified_tokens.clear)


class GatewayApp:
    def __init__(self, prefix: str | None = None):
        self.prefix = (prefix or settings.GATEWAY_PREFIX).rstrip("/")
        self.trusted_proxies = TrustedProxies(settings.GATEWAY_TRUSTED_PROXIES)

    def __call__(self, environ: dict, start_response):
        request_id = safe_request_id(environ.get("HTTP_X_REQUEST_ID")) or uuid.uuid4().hex
        try:
            raw_path = environ.get("PATH_INFO", "")
            path = raw_path.encode("latin-1").decode("utf-8", "replace")[len(self.prefix) :]
            try:
                config = config_holder.current()
            except Exception:
                logger.exception("No gateway configuration could be loaded")
                raise IssuerUnavailable("The gateway configuration is unavailable.") from None
            decision = decide(config, environ, path)
            try:
                return self._forward(environ, start_response, decision, path, request_id)
            except GatewayError as error:
                error.soap = decision.api.soap
                raise
        except GatewayError as error:
            soap_type = environ.get("CONTENT_TYPE", "") if error.soap else None
            return self._error(start_response, error, request_id, soap_type)
        except Exception:
            logger.exception("Unexpected error on request %s", request_id)
            return self._error(start_response, GatewayError(), request_id, None)

    def _forward(self, environ, start_response, decision: Decision, path: str, request_id: str):
        api, policy = decision.api, decision.api.policy
        # Claim headers are the gateway's to set: a client's copy never passes, even
        # when the token lacks the claim and the gateway sets nothing in its place.
        drop = {header.lower() for _, header in policy.forward_claims}
        if not policy.forward_authorization and policy.identity_source == "header":
            drop.add(policy.identity_name.lower())
        headers = request_headers(environ, drop)
        headers.update(self._forwarding_headers(environ, request_id))
        self._identity_headers(headers, decision)
        body, framing, chunked = request_body(environ)
        headers.update(framing)
        query = environ.get("QUERY_STRING", "")
        if policy.identity_source == "query" and not policy.forward_authorization:
            query = _without_param(query, policy.identity_name)
        target = upstream_path(
            api, decision.segments, path.endswith("/") and bool(decision.segments), query
        )
        response = send(
            api, UpstreamRequest(environ["REQUEST_METHOD"], target, headers, body, chunked)
        )
        try:
            status = status_line(response)
            out_headers = response_headers(response)
            response_body = ResponseBody(response)  # reads the first chunk: a reset is still a 502
        except GatewayError:
            response.close()
            raise
        out_headers.append(("X-Request-Id", request_id))
        start_response(status, out_headers)
        return response_body

    def _forwarding_headers(self, environ: dict, request_id: str) -> dict[str, str]:
        remote = environ.get("REMOTE_ADDR", "")
        forwarded_for = remote
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST", "")
        if self.trusted_proxies and remote in self.trusted_proxies:
            # Only a configured load balancer may tell us who the client was.
            prior = environ.get("HTTP_X_FORWARDED_FOR")
            forwarded_for = f"{prior}, {remote}" if prior else remote
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            scheme = proto if proto in {"http", "https"} else scheme
            host = environ.get("HTTP_X_FORWARDED_HOST", host)
        return {
            "x-forwarded-for": forwarded_for,
            "x-forwarded-proto": scheme,
            "x-forwarded-host": host,
            "x-request-id": request_id,
            "via": "1.1 gatekeep",
        }

    @staticmethod
    def _identity_headers(headers: dict[str, str], decision: Decision) -> None:
        if decision.application is not None:
            headers["x-gateway-application"] = claim_header_value(decision.application.name) or ""
        if decision.token is None:
            return
        subject = claim_header_value(decision.token.claims.get("sub"))
        if subject:
            headers["x-gateway-subject"] = subject
        for claim, header in decision.api.policy.forward_claims:
            value = claim_header_value(decision.token.claims.get(claim))
            if value is not None:
                headers[header.lower()] = value

    @staticmethod
    def _error(start_response, error: GatewayError, request_id: str, soap_type: str | None):
        status, headers, body = render_error(error, request_id, soap_type)
        start_response(status, headers)
        return [body]


class TrustedProxies:
    """GATEWAY_TRUSTED_PROXIES: addresses or networks (CIDR), as gunicorn's forwarded_allow_ips."""

    def __init__(self, entries: list[str]):
        self._addresses = frozenset(entry for entry in entries if "/" not in entry)
        self._networks = tuple(ipaddress.ip_network(entry) for entry in entries if "/" in entry)

    def __bool__(self) -> bool:
        return bool(self._addresses or self._networks)

    def __contains__(self, remote: str) -> bool:
        if remote in self._addresses:
            return True
        if not self._networks:
            return False
        try:
            address = ipaddress.ip_address(remote)
        except ValueError:
            return False
        return any(address in network for network in self._networks)


def _without_param(query: str, name: str) -> str:
    return "&".join(part for part in query.split("&") if part.split("=", 1)[0] != name)
