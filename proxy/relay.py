"""The public OAuth2/OpenID endpoints, relayed to the control plane's internal listener.

Clients reach the internal authorization server (/oauth2/token, /oauth2/jwks,
/.well-known/openid-configuration…) on the public origin, but its work (password
hashing above all) runs in the control plane's processes, never on this event
loop. The relay keeps the client's Host, states the client's address in
X-Forwarded-For, and strips the console's cookies.
"""

import logging

from core.hot_settings import hot
from core.request_ids import request_id_for
from proxy.body import ClientBody, ClientGone, ClientTooSlow
from proxy.config import Upstream
from proxy.errors import GatewayError, RequestTimeout
from proxy.forward import (
    check_status,
    first_chunk,
    relay_body,
    relayed_request,
    response_headers,
    send_to,
    upstream_client,
)
from proxy.responses import send_error
from proxy.upstream import UpstreamFailure

logger = logging.getLogger("gatekeep.proxy")
RELAY_CONNECT_TIMEOUT = 2.0
RELAY_READ_TIMEOUT = 30.0


class ControlPlaneRelay:
    def __init__(self, url: str, client_address):
        self.upstream = Upstream.parse(url)
        self.client_address = client_address  # (scope, environ) -> the client's address

    async def __call__(self, scope: dict, receive, send_message, environ: dict) -> None:
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        body = ClientBody(receive, environ, hot.GATEWAY_CLIENT_BODY_TIMEOUT)
        client_address = self.client_address(scope, environ)
        framing = body.framing()
        try:
            stream = await body.stream() if body.expected else None
            request = relayed_request(scope, environ, request_id, client_address, framing, stream)
            response = await send_to(
                upstream_client(),
                self.upstream,
                request,
                RELAY_CONNECT_TIMEOUT,
                RELAY_READ_TIMEOUT,
                authority=environ.get("HTTP_HOST") or self.upstream.host,
            )
            try:
                status = check_status(response)
                out_headers = response_headers(response, own_cookies=True)
                first = await first_chunk(response)
                await send_message(
                    {"type": "http.response.start", "status": status, "headers": out_headers}
                )
                await relay_body(response, first, send_message)
            finally:
                response.close()
        except GatewayError as error:
            logger.warning("Relay to the control plane failed: %s", error.detail)
            await send_error(send_message, error, request_id, None)
        except ClientTooSlow:
            error = RequestTimeout("The request body did not arrive in time.")
            await send_error(send_message, error, request_id, None, close=True)
        except (ClientGone, UpstreamFailure):
            pass
