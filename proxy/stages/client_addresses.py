"""Client address allow and deny lists, for an API (stage 2, before the token) and for
an application (stage 2, once the application is known).

The address is the one core/client_address.py trusts: the peer, or the nearest hop
a trusted proxy (GATEWAY_TRUSTED_PROXIES) wrote into X-Forwarded-For; anything a
client wrote there itself is ignored. Deny wins; a non-empty allow list admits only
its networks.
"""

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from core.client_address import TrustedProxies, client_from, trusted_proxies
from proxy.errors import GatewayError

# A network as plain integers: (IP version, network address, mask). Membership is one
# AND and one comparison per network, instead of ipaddress objects on every call.
Network = tuple[int, int, int]


class ClientAddressRefused(GatewayError):
    status, title, code = 403, "Client address not allowed", "client_address_refused"


@dataclass(frozen=True, slots=True)
class AddressLists:
    allow: tuple[Network, ...]
    deny: tuple[Network, ...]

    def admits(self, address: tuple[int, int]) -> bool:
        version, value = address
        for net_version, network, mask in self.deny:
            if net_version == version and value & mask == network:
                return False
        if not self.allow:
            return True
        for net_version, network, mask in self.allow:
            if net_version == version and value & mask == network:
                return True
        return False


def compile_lists(allow: list[str], deny: list[str]) -> AddressLists:
    def networks(entries) -> tuple[Network, ...]:
        found = []
        for entry in entries:
            network = ipaddress.ip_network(entry.strip(), strict=False)
            found.append((network.version, int(network.network_address), int(network.netmask)))
        return tuple(found)

    return AddressLists(networks(allow), networks(deny))


@lru_cache(maxsize=8192)
def _client(peer: str, forwarded_for: str, proxies: TrustedProxies) -> tuple[int, int] | None:
    """(version, integer) of the trusted client address; cached per peer and header."""
    text = client_from(peer, forwarded_for, proxies)
    if text is None:
        return None
    address = ipaddress.ip_address(text)
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    return address.version, int(address)


def client_ip(environ: dict) -> tuple[int, int] | None:
    """The trusted client address of this call, or None (the token inspector has none)."""
    found = environ.get("gatekeep.client_ip", False)
    if found is not False:
        return found  # the API's lists and the application's look at the same address
    peer = environ.get("REMOTE_ADDR")
    found = None
    if peer:
        found = _client(peer, environ.get("HTTP_X_FORWARDED_FOR", ""), trusted_proxies())
    environ["gatekeep.client_ip"] = found
    return found


def _text(address: tuple[int, int]) -> str:
    return str(
        ipaddress.ip_address(address[1]) if address[0] == 4 else ipaddress.IPv6Address(address[1])
    )


def check_address(lists: AddressLists, environ: dict, trace: list | None, whose: str) -> None:
    address = client_ip(environ)
    check = f"client_address ({whose})"
    if address is None:
        if trace is not None:
            trace.append(
                {"check": check, "ok": True, "detail": "No client address to check (inspector)."}
            )
        return
    if not lists.admits(address):
        raise ClientAddressRefused(
            f"Calls from this address are not allowed for this {whose}.",
            check=check,
            admin_detail=f"{_text(address)} is denied or not in the allow list of the {whose}.",
        )
    if trace is not None:
        trace.append({"check": check, "ok": True, "detail": f"{_text(address)} is allowed."})
