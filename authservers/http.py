"""The one place the gateway talks HTTP to identity providers.

Every fetch has connect, read and total deadlines and a body-size cap, follows
redirects only to URLs that pass the issuer-URL rules (and never from https to
http), and reduces failures to a short vocabulary an admin can act on. The total
deadline covers the response head too (gateway_admin.outbound): an IdP dripping
its headers cannot hold the single-flight refresh every worker waits on.
"""

import json
import time
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from requests.adapters import HTTPAdapter

from gateway_admin import outbound

from .validators import validate_issuer_url

MAX_REDIRECTS = 3


class _HeadDeadlineAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = outbound.POOL_CLASSES


_session = requests.Session()
_session.mount("http://", _HeadDeadlineAdapter())
_session.mount("https://", _HeadDeadlineAdapter())
_session.headers["User-Agent"] = "Gatekeep/1.0 (+jwks)"
_session.headers["Accept"] = "application/json, application/jwk-set+json"


class FetchError(Exception):
    """A fetch failed; the message is short and safe to show an admin."""


@dataclass(frozen=True)
class FetchedDocument:
    data: dict
    etag: str
    max_age: int | None


def fetch_json(url: str) -> FetchedDocument:
    deadline = time.monotonic() + settings.JWKS_TOTAL_TIMEOUT
    secure = url.lower().startswith("https:")
    for _ in range(MAX_REDIRECTS + 1):
        _check_url(url)
        if secure and not url.lower().startswith("https:"):
            raise FetchError(f"Refusing to follow a redirect from https to {url}")
        response = _get(url, deadline)
        if response.is_redirect:
            location = response.headers.get("Location", "")
            response.close()
            url = urljoin(url, location)
            continue
        with response:
            if response.status_code != 200:
                raise FetchError(f"{url} answered HTTP {response.status_code}")
            body = _read_capped(response, deadline)
            return FetchedDocument(
                data=_parse_json_object(body, url),
                etag=response.headers.get("ETag", "")[:200],
                max_age=_max_age(response.headers.get("Cache-Control", "")),
            )
    raise FetchError(f"Too many redirects fetching {url}")


def _check_url(url: str) -> None:
    try:
        validate_issuer_url(url)
    except ValidationError as exc:
        raise FetchError(f"Refusing to fetch {url}: {' '.join(exc.messages)}") from None


def _get(url: str, deadline: float) -> requests.Response:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchError(f"Timed out fetching {url}")
    timeout = (
        min(settings.JWKS_CONNECT_TIMEOUT, remaining),
        min(settings.JWKS_READ_TIMEOUT, remaining),
    )
    try:
        return _session.get(url, timeout=timeout, stream=True, allow_redirects=False)
    except requests.exceptions.SSLError:
        raise FetchError(f"TLS error fetching {url}") from None
    except requests.exceptions.Timeout:
        raise FetchError(f"Timed out fetching {url}") from None
    except requests.exceptions.ConnectionError as exc:
        text = str(exc)
        if "Name or service not known" in text or "NameResolutionError" in text:
            raise FetchError(f"DNS lookup failed for {url}") from None
        raise FetchError(f"Connection refused or reset fetching {url}") from None
    except requests.exceptions.RequestException:
        raise FetchError(f"Could not fetch {url}") from None


def _read_capped(response: requests.Response, deadline: float) -> bytes:
    """Read the body, stopping at the size cap or the total deadline (a drip feed)."""
    cap = settings.JWKS_MAX_BYTES
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise FetchError(f"Response too large ({declared} bytes; the limit is {cap})")
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=16384):
            size += len(chunk)
            if size > cap:
                raise FetchError(f"Response too large (over {cap} bytes)")
            if time.monotonic() > deadline:
                raise FetchError("Timed out reading the response")
            chunks.append(chunk)
    except requests.exceptions.RequestException:
        raise FetchError("Connection failed while reading the response") from None
    return b"".join(chunks)


def _parse_json_object(body: bytes, url: str) -> dict:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise FetchError(f"{url} did not return JSON") from None
    if not isinstance(data, dict):
        raise FetchError(f"{url} did not return a JSON object")
    return data


def _max_age(cache_control: str) -> int | None:
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.strip().isdigit():
            return int(value.strip())
    return None
