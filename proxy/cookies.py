"""The gateway's own cookies at the boundary between the planes.

Browsers scope cookies by host, not port: the console's session and CSRF cookies
reach the public listener too. Names beginning with `gatekeep_` (optionally with a
`__Host-`/`__Secure-` prefix) belong to the gateway: they are removed from every
proxied request and an upstream's Set-Cookie for them is dropped, so an upstream
can neither read the admin session nor plant one.
"""

import re

from django.conf import settings

_RESERVED = re.compile(r"(?:__host-|__secure-)?gatekeep_", re.IGNORECASE)


def is_reserved_cookie(name: str) -> bool:
    return _RESERVED.match(name.strip()) is not None


def without_cookies(header: str, also_drop: set[str], reserved: bool = True) -> str:
    """A Cookie header value minus the gateway's cookies (if `reserved`) and `also_drop`."""
    kept = []
    for pair in header.split(";"):
        name = _name(pair)
        if not name or (reserved and is_reserved_cookie(name)) or name in also_drop:
            continue
        kept.append(pair.strip())
    return "; ".join(kept)


def console_cookie_names(header: str) -> set[str]:
    """The console's cookies in a Cookie header value: its session and CSRF cookies, and
    reserved ones naming the admin. The relay to the control plane keeps the rest."""
    names = (_name(pair) for pair in header.split(";") if pair.strip())
    return {name for name in names if _is_console_cookie(name)}


def _name(pair: str) -> str:
    """The name of one `name=value` pair of a Cookie header."""
    return pair.split("=", 1)[0].strip()


def _is_console_cookie(name: str) -> bool:
    return name in {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME} or (
        is_reserved_cookie(name) and "admin" in name.lower()
    )
