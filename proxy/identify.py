"""Getting the token out of the request, per the policy's identity source (RFC 6750 §2)."""

import io
from urllib.parse import parse_qsl

from django.http.cookie import parse_cookie

from core.hot_settings import hot
from proxy.config import PolicyConfig
from proxy.errors import InvalidRequest, InvalidToken, MissingToken


def extract_token(environ: dict, policy: PolicyConfig) -> str | None:
    """The raw token, None when the request carries none, or an error."""
    query_tokens = _query_values(environ, "access_token")
    location = policy.token_location
    if location.in_query:
        values = _query_values(environ, location.name)
        if len(values) > 1:
            raise InvalidRequest("The token appears more than once in the query.", check="identify")
        token = values[0] if values else None
    elif location.in_cookie:
        token = parse_cookie(environ.get("HTTP_COOKIE", "")).get(location.name) or None
    else:
        token = _from_header(environ.get(location.environ_key))
        if token is not None and query_tokens:
            raise InvalidRequest(
                "Send the token once: in the header or the query, not both.", check="identify"
            )
        if token is not None and _form_body_has_token(environ):
            raise InvalidRequest(
                "Send the token once: in the header or the body, not both.", check="identify"
            )
    if token is not None and len(token) > hot.GATEWAY_MAX_TOKEN_BYTES:
        raise InvalidToken("The token is too long.", check="identify")
    return token


def _from_header(value: str | None) -> str | None:
    if value is None or not value.strip(" "):
        return None
    value = value.strip(" ")
    if "," in value:
        # Servers join repeated headers with a comma; a JWT never contains one.
        raise InvalidRequest("Send exactly one credential.", check="identify")
    scheme, space, rest = value.partition(" ")
    if not space:
        # A bare token without the "Bearer " prefix is accepted.
        if scheme.lower() == "bearer":
            return None
        return scheme
    if scheme.lower() != "bearer":
        return None  # another scheme (Basic, Digest…): no bearer credential at all
    token = rest.strip(" ")
    return token or None


def _query_values(environ: dict, name: str) -> list[str]:
    query = environ.get("QUERY_STRING", "")
    if name not in query and "%" not in query and "+" not in query:
        return []  # cheap exit; an encoded spelling (gk%2Dtoken) is decoded below
    return [value for key, value in parse_qsl(query, keep_blank_values=True) if key == name]


# RFC 6750 §2.2 form bodies are small; a larger one is checked on its first bytes only.
FORM_PEEK_BYTES = 64 * 1024


def is_form(environ: dict) -> bool:
    content_type = environ.get("CONTENT_TYPE", "")
    return content_type.partition(";")[0].strip().lower() == "application/x-www-form-urlencoded"


def _form_body_has_token(environ: dict) -> bool:
    """True for a form-encoded body carrying access_token (RFC 6750 §2.2), read without loss.

    Only form posts pay for this: the peeked bytes are put back in front of
    wsgi.input, so the body still streams to the upstream unchanged.
    """
    if not is_form(environ):
        return False
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        peek = min(int(length), FORM_PEEK_BYTES)
    elif environ.get("wsgi.input_terminated"):
        peek = FORM_PEEK_BYTES  # chunked: the server stops at the end of the body
    else:
        return False
    stream = environ["wsgi.input"]
    head = _read_up_to(stream, peek)
    environ["wsgi.input"] = _ReplayedInput(head, stream)
    if b"access_token" not in head:
        return False
    fields = parse_qsl(head.decode("latin-1"), keep_blank_values=True)
    return any(name == "access_token" for name, _ in fields)


def _read_up_to(stream, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class _ReplayedInput:
    """wsgi.input with bytes already read put back in front."""

    def __init__(self, head: bytes, rest):
        self._head = io.BytesIO(head)
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        data = self._head.read(size)
        if size is None or size < 0:
            return data + self._rest.read()
        if len(data) < size:
            data += self._rest.read(size - len(data))
        return data


def require_token(token: str | None) -> str:
    if token is None:
        raise MissingToken("Send a bearer token in the Authorization header.", check="identify")
    return token
