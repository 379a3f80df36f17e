"""Sending a complete (non-streamed) answer over ASGI: errors and the plane's own replies."""

import json

from proxy.errors import GatewayError, render_error


async def send_error(
    send, error: GatewayError, request_id: str, soap_type: str | None, close: bool = False
) -> tuple[int, int]:
    """Returns (status, body bytes sent), for the call's record."""
    status_line, headers, body = render_error(error, request_id, soap_type)
    if close:
        headers.append(("Connection", "close"))
    status = int(status_line[:3])
    await send_response(send, status, headers, body)
    return status, len(body)


async def send_json(send, status: int, payload: dict, headers: list | None = None) -> None:
    body = json.dumps(payload).encode()
    await send_response(
        send,
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            *(headers or []),
        ],
        body,
    )


async def send_response(send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
