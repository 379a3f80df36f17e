"""The gateway's own cookies at the boundary between the planes.

Browsers scope cookies by host, not port: the console's session and CSRF cookies
reach the public listener too. Names beginning with `gatekeep_` (optionally with a
`__Host-`/`__Secure-` prefix) belong to the gateway: they are removed from every
proxied request and an upstream's Set-Cookie for them is dropped, so an upstream
can neither read the admin session nor plant one.
"""

import re

_RESERVED = re.compile(r"(?:__host-|__secure-)?gatekeep_", re.IGNORECASE)


def is_reserved_cookie(name: str) -> bool:
    return _RESERVED.match(name.strip()) is not None


def without_cookies(header: str, also_drop: set[str], reserved: bool = True) -> str:
    """A Cookie header value minus the gateway's cookies (if `reserved`) and `also_drop`."""
    kept = []
    for pair in header.split(";"):
        name = pair.split("=", 1)[0].strip()
        if not name or (reserved and is_reserved_cookie(name)) or name in also_drop:
            continue
        kept.append(pair.strip())
    return "; ".join(kept)
