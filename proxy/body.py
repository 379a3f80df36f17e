"""The client's request body: read with a deadline, re-framed, streamed to the upstream.

The server (uvicorn with llhttp) has already refused ambiguous framings and
decodes chunks; what arrives here is the body's bytes. A client that stops
sending gets a 408 after GATEWAY_CLIENT_BODY_TIMEOUT seconds of silence; one
that disconnects mid-body makes the upstream connection abort, so the upstream
never sees a truncated body as complete.
"""

import asyncio
from collections.abc import AsyncIterator


class ClientGone(Exception):
    """The client disconnected before its body was complete."""


class ClientTooSlow(Exception):
    """The client sent nothing for longer than the body deadline."""


class ClientBody:
    def __init__(self, receive, environ: dict, timeout: float):
        self._receive = receive
        self._timeout = timeout
        self._buffered: list[bytes] = []
        self._finished = False
        length = environ.get("CONTENT_LENGTH", "")
        self._length = int(length) if length.isdigit() else None
        self._chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        self.expected = bool(self._length) or self._chunked
        if not self.expected:
            self._finished = True

    def framing(self) -> tuple[list[tuple[str, str]], bool]:
        """Headers that frame the body towards the upstream, and whether it is chunked."""
        if self._length:
            return [("content-length", str(self._length))], False
        if self._chunked:
            return [], True
        return [], False

    async def _next(self) -> bytes | None:
        if self._finished:
            return None
        try:
            async with asyncio.timeout(self._timeout):
                message = await self._receive()
        except TimeoutError:
            raise ClientTooSlow from None
        if message["type"] == "http.disconnect":
            raise ClientGone
        if not message.get("more_body", False):
            self._finished = True
        return message.get("body", b"")

    async def peek(self, size: int) -> bytes:
        """Up to `size` bytes from the start of the body; they are sent on later too."""
        total = sum(len(chunk) for chunk in self._buffered)
        while total < size:
            chunk = await self._next()
            if chunk is None:
                break
            if chunk:
                self._buffered.append(chunk)
                total += len(chunk)
        return b"".join(self._buffered)[:size]

    async def stream(self) -> AsyncIterator[bytes]:
        """The whole body as an async iterator; its first piece is read before returning,
        so a body that fails at once is refused before the upstream is contacted."""
        if not self._buffered:
            while True:
                chunk = await self._next()
                if chunk is None:
                    break
                if chunk:
                    self._buffered.append(chunk)
                    break
        return self._rest()

    async def _rest(self) -> AsyncIterator[bytes]:
        buffered, self._buffered = self._buffered, []
        for chunk in buffered:
            yield chunk
        while (chunk := await self._next()) is not None:
            if chunk:
                yield chunk
