"""Who is calling: the client's IP address, believing X-Forwarded-For only from our proxies.

Login lockouts, token-endpoint rate limits, the audit trail and the data plane's
X-Forwarded-* headers depend on this address, so a client must not be able to choose
it: X-Forwarded-For counts only when the direct peer is one of GATEWAY_TRUSTED_PROXIES
(addresses or CIDR networks, the setting gunicorn's forwarded_allow_ips uses too).
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """A set of addresses and networks; `address in proxies` never raises."""

    def __init__(self, entries: list[str] | tuple[str, ...]):
        try:
            self._networks = tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
        except ValueError as exc:
            raise ImproperlyConfigured(f"GATEWAY_TRUSTED_PROXIES: {exc}") from None

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in network for network in self._networks)


@lru_cache(maxsize=8)
def _trusted(entries: tuple[str, ...]) -> TrustedProxies:
    return TrustedProxies(entries)


def _parse(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def trusted_proxies() -> TrustedProxies:
    """GATEWAY_TRUSTED_PROXIES, parsed once per value."""
    return _trusted(tuple(settings.GATEWAY_TRUSTED_PROXIES))


def is_trusted_proxy(address: str, proxies: TrustedProxies) -> bool:
    return bool(proxies) and _parse(address) in proxies


def client_address(request: HttpRequest) -> str | None:
    return client_from(
        str(request.META.get("REMOTE_ADDR") or ""),
        str(request.META.get("HTTP_X_FORWARDED_FOR") or ""),
        trusted_proxies(),
    )


def client_from(peer: str, forwarded_for: str, proxies: TrustedProxies) -> str | None:
    """The client's address: the peer, or the nearest untrusted hop a trusted proxy saw.

    X-Forwarded-For is read from the right: each trusted proxy appended the peer it
    saw, and everything left of the first untrusted hop was written by the client.
    """
    remote = _parse(peer)
    if remote is None or remote not in proxies:
        return str(remote) if remote is not None else None
    for hop in reversed(forwarded_for.split(",")):
        address = _parse(hop)
        if address is None:
            break  # garbage a trusted proxy would never write: stop at the last good hop
        if address not in proxies:
            return str(address)
        remote = address
    return str(remote)
