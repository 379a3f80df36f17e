"""Header hygiene for both directions of the proxy (RFC 9110 §7.6)."""

import re
from functools import lru_cache
from urllib.parse import quote

from core.reserved_headers import HOP_BY_HOP

GATEWAY_HEADER_PREFIX = "x-gateway-"
MAX_CLAIM_HEADER_LENGTH = 1024


def connection_listed(value: str | None) -> set[str]:
    """Names a Connection header declares hop-by-hop."""
    if not value:
        return set()
    return {name.strip().lower() for name in value.split(",") if name.strip()}


def is_hop_by_hop(name: str, listed: set[str]) -> bool:
    lowered = name.lower()
    return lowered in HOP_BY_HOP or lowered in listed


# Printable ASCII without '%': already what quote() below would return.
_PLAIN_VALUE = re.compile(r"[ -$&-~]*")


def claim_header_value(value: object) -> str | None:
    """A claim as a header value: printable ASCII only, so it can never split headers."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    if _PLAIN_VALUE.fullmatch(value):
        return value[:MAX_CLAIM_HEADER_LENGTH]
    # Percent-encode everything outside visible ASCII and space (CR, LF, NUL, UTF-8…).
    # errors="replace": a lone surrogate (refused by the token parser anyway) becomes "?".
    encoded = quote(value, safe=" !\"#$&'()*+,/:;<=>?@[\\]^_`{|}~", errors="replace")
    return encoded[:MAX_CLAIM_HEADER_LENGTH]


# For values that come back call after call (an application's name): text only.
text_header_value = lru_cache(maxsize=4096)(claim_header_value)
