"""Client address allow and deny lists, for an API (stage 2, before the token) and for
an application (stage 2, once the application is known).

The address is the one core/client_address.py trusts: the peer, or the nearest hop
a trusted proxy (GATEWAY_TRUSTED_PROXIES) wrote into X-Forwarded-For; anything a
client wrote there itself is ignored. Deny wins; a non-empty allow list admits only
its networks.
"""

import ipaddress
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from django.core.signals import setting_changed

from core.client_address import client_from, trusted_proxies
from proxy.errors import GatewayError

# An address as one integer: IPv4 as is, IPv6 above every IPv4 one (+2**128), so one
# sorted list holds both. A list of networks is a sorted list of disjoint ranges,
# merged at compile time; membership is one binary search.
_V6 = 1 << 128
_MAPPED = int(ipaddress.IPv6Address("::ffff:0:0"))  # IPv4-mapped IPv6 addresses


class ClientAddressRefused(GatewayError):
    status, title, code = 403, "Client address not allowed", "client_address_refused"


@dataclass(frozen=True, slots=True)
class AddressLists:
    """The addresses a pair of lists admits, as sorted disjoint ranges (allow minus deny,
    or everything minus deny without an allow list), worked out at compile time."""

    starts: tuple[int, ...]  # the first is -1, an empty range: every key finds a range
    ends: tuple[int, ...]  # inclusive

    def admits(self, key: int) -> bool:
        return key <= self.ends[bisect_right(self.starts, key) - 1]


def _spans(entries: list[str]) -> list[tuple[int, int]]:
    """The networks as merged, sorted (first, last) ranges of address integers."""
    spans = []
    for entry in entries:
        network = ipaddress.ip_network(entry.strip(), strict=False)
        first = int(network.network_address)
        last = first + network.num_addresses - 1
        if network.version == 4:
            spans.append((first, last))
            continue
        spans.append((first + _V6, last + _V6))
        if first >= _MAPPED and last <= _MAPPED + 0xFFFFFFFF:
            # Clients at ::ffff:a.b.c.d are keyed as a.b.c.d (`_client`): a network written
            # in that form names those IPv4 clients. (A wider one, ::/0, means IPv6 only.)
            spans.append((first - _MAPPED, last - _MAPPED))
    spans.sort()
    merged: list[list[int]] = []
    for first, last in spans:
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [(first, last) for first, last in merged]


def compile_lists(allow: list[str], deny: list[str]) -> AddressLists:
    admitted = _spans(allow) if allow else [(0, 2 * _V6 - 1)]
    for deny_first, deny_last in _spans(deny):
        kept = []
        for first, last in admitted:
            if deny_last < first or last < deny_first:
                kept.append((first, last))
                continue
            if first < deny_first:
                kept.append((first, deny_first - 1))
            if deny_last < last:
                kept.append((deny_last + 1, last))
        admitted = kept
    admitted.insert(0, (-1, -2))
    return AddressLists(tuple(a[0] for a in admitted), tuple(a[1] for a in admitted))


@lru_cache(maxsize=8192)
def _client(peer: str, forwarded_for: str) -> int | None:
    """The trusted client address as one integer; cached per peer and header (the cache
    is emptied when GATEWAY_TRUSTED_PROXIES changes: tests)."""
    text = client_from(peer, forwarded_for, trusted_proxies())
    if text is None:
        return None
    address = ipaddress.ip_address(text)
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    return int(address) + (_V6 if address.version == 6 else 0)


def _forget_clients(setting: str, **kwargs) -> None:
    if setting == "GATEWAY_TRUSTED_PROXIES":
        _client.cache_clear()


setting_changed.connect(_forget_clients)


def _text(key: int) -> str:
    return str(ipaddress.IPv6Address(key - _V6) if key >= _V6 else ipaddress.IPv4Address(key))


def check_address(lists: AddressLists, environ: dict, trace: list | None, whose: str) -> None:
    address = environ.get("gatekeep.client_ip", -1)
    if address == -1:  # the first list of the call: the API's and the application's share it
        peer = environ.get("REMOTE_ADDR")
        address = _client(peer, environ.get("HTTP_X_FORWARDED_FOR", "")) if peer else None
        environ["gatekeep.client_ip"] = address
    if address is None:
        if trace is not None:
            trace.append(
                {
                    "check": f"client_address ({whose})",
                    "ok": True,
                    "detail": "No client address to check (inspector).",
                }
            )
        return
    if address > lists.ends[bisect_right(lists.starts, address) - 1]:  # not lists.admits()
        raise ClientAddressRefused(
            f"Calls from this address are not allowed for this {whose}.",
            check=f"client_address ({whose})",
            admin_detail=f"{_text(address)} is denied or not in the allow list of the {whose}.",
        )
    if trace is not None:
        trace.append(
            {
                "check": f"client_address ({whose})",
                "ok": True,
                "detail": f"{_text(address)} is allowed.",
            }
        )
