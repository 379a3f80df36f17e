"""Client address allow and deny lists, for an API (stage 2, before the token) and for
an application (stage 2, once the application is known).

The address is the one core/client_address.py trusts: the peer, or the nearest hop
a trusted proxy (GATEWAY_TRUSTED_PROXIES) wrote into X-Forwarded-For; anything a
client wrote there itself is ignored. Deny wins; a non-empty allow list admits only
its networks.
"""

import ipaddress
from dataclasses import dataclass

from core.client_address import client_from, trusted_proxies
from proxy.errors import GatewayError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ClientAddressRefused(GatewayError):
    status, title, code = 403, "Client address not allowed", "client_address_refused"


@dataclass(frozen=True, slots=True)
class AddressLists:
    allow: tuple[Network, ...]
    deny: tuple[Network, ...]

    def admits(self, address) -> bool:
        if any(address in network for network in self.deny):
            return False
        return not self.allow or any(address in network for network in self.allow)


def compile_lists(allow: list[str], deny: list[str]) -> AddressLists:
    def networks(entries):
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)

    return AddressLists(networks(allow), networks(deny))


def client_ip(environ: dict):
    """The trusted client address of this call (cached on the environ), or None."""
    found = environ.get("gatekeep.client_ip", False)
    if found is not False:
        return found
    peer = environ.get("REMOTE_ADDR")
    address = None
    if peer:
        text = client_from(peer, environ.get("HTTP_X_FORWARDED_FOR", ""), trusted_proxies())
        if text is not None:
            address = ipaddress.ip_address(text)
            if address.version == 6 and address.ipv4_mapped is not None:
                address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    environ["gatekeep.client_ip"] = address
    return address


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
            admin_detail=f"{address} is denied or not in the allow list of the {whose}.",
        )
    if trace is not None:
        trace.append({"check": check, "ok": True, "detail": f"{address} is allowed."})
