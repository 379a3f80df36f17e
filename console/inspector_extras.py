"""The token inspector's "copy as curl" and shareable links.

A shared link never carries the token: it names the API, method and path, plus a
random id under which the token is kept in the shared cache for
GATEWAY_INSPECTOR_SHARE_SECONDS. Only someone signed in with the token inspector's
role can open it; once it expires, the link still fills in the call but asks for the
token again. The cache key is a hash of the id, so the cache alone does not give
working links.
"""

import hashlib
import secrets
import shlex
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.cache import cache

from apis.choices import IdentitySource

SHARE_PREFIX = "console-inspector-share:"
# Random ids are 22 URL-safe characters; anything else is not looked up at all.
SHARE_ID_LENGTH = 22


def _key(share_id: str) -> str:
    return SHARE_PREFIX + hashlib.sha256(share_id.encode()).hexdigest()


def share_token(token: str) -> str:
    share_id = secrets.token_urlsafe(16)  # 22 characters
    cache.set(_key(share_id), token, timeout=settings.GATEWAY_INSPECTOR_SHARE_SECONDS)
    return share_id


def shared_token(share_id: str) -> str | None:
    if len(share_id) != SHARE_ID_LENGTH or not share_id.replace("-", "").replace("_", "").isalnum():
        return None
    value = cache.get(_key(share_id))
    return value if isinstance(value, str) else None


def share_query(api_pk: int, method: str, path: str, share_id: str) -> str:
    return urlencode({"api": api_pk, "method": method, "path": path, "share": share_id})


def curl_command(api, method: str, path: str, token: str) -> str:
    """The call as a curl command line, with the token where the API's policy looks for it."""
    url = f"{settings.GATEWAY_PUBLIC_URL.rstrip('/')}{settings.GATEWAY_PREFIX}{api.base_path}"
    url += path if path.startswith("/") else f"/{path}"
    parts = ["curl", "-i"]
    if method != "GET":
        parts += ["-X", method]
    policy = getattr(api, "policy", None)
    source = policy.identity_source if policy else IdentitySource.HEADER
    name = policy.identity_name if policy else "Authorization"
    if token:
        if source == IdentitySource.QUERY:
            url += ("&" if "?" in url else "?") + f"{quote(name)}={quote(token, safe='')}"
        elif source == IdentitySource.COOKIE:
            parts += ["--cookie", f"{name}={token}"]
        elif name.lower() == "authorization":
            parts += ["-H", f"Authorization: Bearer {token}"]
        else:
            parts += ["-H", f"{name}: {token}"]
    parts.append(url)
    return " ".join(shlex.quote(part) for part in parts)
