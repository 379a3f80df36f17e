"""The one place the gateway talks HTTP to identity providers.

Every fetch has connect, read and total deadlines and a body-size cap, follows
redirects only to URLs that pass the issuer-URL rules and the outbound policy
(and never from https to http), and connects only to addresses the policy
allows, checked after DNS (core.outbound). The total deadline covers the
response head too: an IdP dripping its headers cannot hold the single-flight
refresh every worker waits on.

What an admin sees is chosen so that a fetch cannot be used to map a network: a
destination the policy refuses is named with its reason (nothing was sent), but
once a connection is attempted every failure - refused, reset, timed out, DNS,
TLS, a redirect elsewhere, a non-200 status, a body that is too large or not
JSON - reads the same, "The key set could not be fetched from <host> (...)",
and the real reason goes to the server log (FetchError.detail).
"""

import json
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from requests.adapters import HTTPAdapter

from authservers.validators import validate_issuer_url
from core import outbound
from core.outbound_policy import refusal_for_host

MAX_REDIRECTS = 3


class _HeadDeadlineAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = outbound.POOL_CLASSES

    def send(self, request, **kwargs) -> requests.Response:
        # Never through an HTTP(S)_PROXY from the environment: the proxy would resolve
        # and connect, so the outbound policy could not check the address it reaches.
        kwargs["proxies"] = {}
        return super().send(request, **kwargs)


_session = requests.Session()
_session.mount("http://", _HeadDeadlineAdapter())
_session.mount("https://", _HeadDeadlineAdapter())
_session.headers["User-Agent"] = "Gatekeep/1.0 (+jwks)"
_session.headers["Accept"] = "application/json, application/jwk-set+json"


class FetchError(Exception):
    """A fetch failed; str() is short and safe to show an admin, `detail` is for the log."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail or message


class _Unreachable(Exception):
    """Any failure after a connection was attempted; its text is only ever logged."""


@dataclass(frozen=True)
class FetchedDocument:
    data: dict
    etag: str
    max_age: int | None


def fetch_json(url: str, what: str = "key set") -> FetchedDocument:
    """GET a JSON object; `what` ("key set", "discovery document") names it in errors."""
    _check_url(url, what)
    try:
        return _fetch(url, what)
    except outbound.DestinationRefused as exc:  # DNS named a denied address; nothing sent
        message = f"Refusing to fetch the {what} from {exc.host}: {exc}."
        raise FetchError(message, exc.reason) from None
    except _Unreachable as exc:
        raise unreachable(url, what, str(exc)) from None


def unreachable(url: str, what: str, detail: str) -> FetchError:
    """The one message for "that address did not give us a {what}", whatever the cause."""
    return FetchError(
        f"The {what} could not be fetched from {_origin(url)} "
        f"(connection failed or the answer was not a {what}).",
        f"{url}: {detail}",
    )


def _fetch(url: str, what: str) -> FetchedDocument:
    deadline = time.monotonic() + settings.JWKS_TOTAL_TIMEOUT
    secure = url.lower().startswith("https:")
    for hop in range(MAX_REDIRECTS + 1):
        if hop:
            # Where a redirect points came from the network: refusing it is just "not
            # a {what}" to the admin, or the Location header would be readable.
            try:
                _check_url(url, what)
            except FetchError as exc:
                raise _Unreachable(f"redirect to a refused URL: {exc.detail}") from None
            if secure and not url.lower().startswith("https:"):
                raise _Unreachable(f"refusing to follow a redirect from https to {url}")
        try:
            response = _get(url, deadline)
        except outbound.DestinationRefused as exc:
            if hop:
                raise _Unreachable(f"redirect to a refused address: {exc.reason}") from None
            raise
        if response.is_redirect:
            location = response.headers.get("Location", "")
            response.close()
            url = urljoin(url, location)
            continue
        with response:
            if response.status_code != 200:
                raise _Unreachable(f"{url} answered HTTP {response.status_code}")
            body = _read_capped(response, deadline)
            return FetchedDocument(
                data=_parse_json_object(body, url),
                etag=response.headers.get("ETag", "")[:200],
                max_age=_max_age(response.headers.get("Cache-Control", "")),
            )
    raise _Unreachable(f"too many redirects, the last to {url}")


def _check_url(url: str, what: str) -> None:
    """The URL rules and the outbound policy on the URL's host, before anything is sent."""
    try:
        validate_issuer_url(url)
    except ValidationError as exc:
        reason = " ".join(exc.messages)
        raise FetchError(f"Refusing to fetch the {what} from {url}: {reason}") from None
    reason = refusal_for_host(urlsplit(url).hostname or "")
    if reason is not None:
        raise FetchError(f"Refusing to fetch the {what} from {_origin(url)}: {reason}.")


def _origin(url: str) -> str:
    """host[:port] of a URL, without credentials, path or query (for messages)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def _get(url: str, deadline: float) -> requests.Response:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Unreachable(f"timed out before fetching {url}")
    timeout = (
        min(settings.JWKS_CONNECT_TIMEOUT, remaining),
        min(settings.JWKS_READ_TIMEOUT, remaining),
    )
    try:
        return _session.get(url, timeout=timeout, stream=True, allow_redirects=False)
    except requests.exceptions.SSLError as exc:
        raise _Unreachable(f"TLS error: {exc}") from None
    except requests.exceptions.Timeout as exc:
        raise _Unreachable(f"timed out: {exc}") from None
    except requests.exceptions.ConnectionError as exc:
        raise _Unreachable(f"connection failed (refused, reset or DNS): {exc}") from None
    except requests.exceptions.RequestException as exc:
        raise _Unreachable(f"request failed: {exc}") from None


def _read_capped(response: requests.Response, deadline: float) -> bytes:
    """Read the body, stopping at the size cap or the total deadline (a drip feed)."""
    cap = settings.JWKS_MAX_BYTES
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _Unreachable(f"response too large ({declared} bytes; the limit is {cap})")
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=16384):
            size += len(chunk)
            if size > cap:
                raise _Unreachable(f"response too large (over {cap} bytes)")
            if time.monotonic() > deadline:
                raise _Unreachable("timed out reading the response")
            chunks.append(chunk)
    except requests.exceptions.RequestException:
        raise _Unreachable("connection failed while reading the response") from None
    return b"".join(chunks)


def _parse_json_object(body: bytes, url: str) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise _Unreachable(f"{url} did not return JSON") from None
    if not isinstance(data, dict):
        raise _Unreachable(f"{url} did not return a JSON object")
    return data


def _max_age(cache_control: str) -> int | None:
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.strip().isdigit():
            return int(value.strip())
    return None
