"""Where the gateway may send requests: the deployment-level outbound policy (issue 12).

Every outbound destination an admin configures - an API's upstream, an
authorization server's issuer, discovery URL and JWKS URI, and whatever a
discovery document or a redirect names - passes this policy twice: when the URL
is saved (`check_url`, names and literal addresses) and when a connection is
opened (`refusal_for_host` on the name, then `refusal_for_address` on *every*
address DNS returns, so a name that later resolves elsewhere - DNS rebinding -
is still refused before any packet is sent).

Settings (environment variables of the same name; lists are comma-separated):

GATEWAY_OUTBOUND_ALLOW / GATEWAY_OUTBOUND_DENY
    Host names (`idp.example.com`, `*.corp.example` for its subdomains, `*` for
    every name), IP addresses and CIDRs (`10.0.0.0/8`, `fd00::/8`). Default: empty.
GATEWAY_OUTBOUND_ALLOW_LOOPBACK (default true)
    127.0.0.0/8, ::1 and `localhost`. On by default because development and the
    test suite run IdPs and upstreams on 127.0.0.1; turn it off in production
    (`manage.py check --deploy` warns, gateway_admin.W012, while it is on with
    DEBUG off).
GATEWAY_OUTBOUND_ALLOW_PRIVATE (default true)
    10/8, 172.16/12, 192.168/16, 100.64/10 (shared/CGNAT), 198.18/15 and
    fc00::/7: upstreams usually live on private networks.

How an address is decided, first match wins:

1. Never allowed, whatever the lists say: cloud metadata addresses
   (169.254.169.254, 169.254.170.2, fd00:ec2::254, 100.100.100.200, ...), the
   unspecified/"this network" addresses (0.0.0.0/8, ::), multicast, broadcast
   and reserved (240.0.0.0/4) addresses.
2. The most specific matching IP/CIDR entry of ALLOW or DENY (longest prefix;
   a tie goes to DENY). A DENY entry always refuses. An ALLOW entry allows,
   except that it lifts a *built-in* default denial (link-local; loopback or
   private when switched off) only when the entry lies entirely inside that
   range: `169.254.10.0/24` opens that part of link-local, `0.0.0.0/0` never
   does. So "deny everything but a few ranges" is DENY=0.0.0.0/0,::/0 plus
   ALLOW entries, and a broad ALLOW can never open link-local by accident.
3. Built-in defaults: link-local (169.254.0.0/16, fe80::/10) denied; loopback
   and private ranges as their settings say; everything else allowed.

Before the check, addresses are normalised the way resolvers read them:
IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96) and 6to4 IPv6 addresses are
checked as the IPv4 address they carry, and the inet_aton spellings of IPv4
(`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`) as the dotted address.
A host that ends in a number but is no valid IPv4 address, a host with
characters outside letters, digits, `-`, `_` and `.`, and a non-ASCII host
(write its xn-- form) are refused: parsers disagree on those.

Names are checked before DNS: the known metadata host names
(metadata.google.internal, ...) are never allowed, `localhost` and
`*.localhost` follow the loopback rule, and name entries of ALLOW/DENY decide
by the most specific match (exact name, then the longest `*.` suffix, then
`*`; a tie goes to DENY). A name ALLOW entry never overrides an address rule:
the addresses the name resolves to are checked on their own, so to reach a name
in a denied range, allow its addresses too.

`refusal_for_gateway_listener` adds the rule for upstreams: nothing on this
gateway's own listeners (GATEWAY_PUBLIC_BIND, GATEWAY_ADMIN_BIND, and the
non-loopback names in ALLOWED_HOSTS on ports 80/443), except the built-in
demo echo upstream, or a call would loop back into the gateway.
"""

import functools
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata and credential endpoints: a request there can hand out the
# cloud account's credentials, so no setting opens them.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack, Hetzner
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.170.23",  # AWS EKS Pod Identity
        "169.254.0.23",  # Tencent Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer
        "192.0.0.192",  # Oracle Cloud (classic)
    )
)
METADATA_HOST_NAMES = frozenset(
    {
        "metadata",  # GCP's short name, resolved through the search domain
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
    }
)
_NEVER = tuple(
    (ipaddress.ip_network(network), label)
    for network, label in (
        ("0.0.0.0/8", "an unspecified address"),
        ("::/128", "an unspecified address"),
        ("224.0.0.0/4", "a multicast address"),
        ("ff00::/8", "a multicast address"),
        ("240.0.0.0/4", "a reserved or broadcast address"),
    )
)
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
PRIVATE = tuple(
    ipaddress.ip_network(network)
    for network in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "198.18.0.0/15",
        "fc00::/7",
        "fec0::/10",  # deprecated site-local
        "64:ff9b:1::/48",  # NAT64 local use: the embedded IPv4 position varies
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_IPV4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_NAME = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")
_PATTERN = re.compile(r"^(\*|(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*)$")
_NUMBER = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")

# The one path a gateway listener serves that is meant to be an upstream: the
# demo echo of `manage.py gateway_demo` (gateway_admin/urls.py, "demo-echo").
GATEWAY_OWN_UPSTREAM_PATH = re.compile(r"^/demo/echo(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?$")


# --- public API -------------------------------------------------------------------------


def refusal_for_address(ip: str) -> str | None:
    """None when the gateway may connect to this IP address; else a short reason."""
    text = ip.strip("[]").split("%", 1)[0]  # an IPv6 zone id does not change the address
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = _loose_ipv4(text)
        if address is None:
            return f"{ip} is not an IP address"
    effective = _embedded_ipv4(address) or address
    reason = _address_reason(effective)
    if reason is None:
        return None
    if str(effective) != ip:
        return f"{ip} is {effective}, {reason}"
    return f"{ip} is {reason}"


def refusal_for_host(host: str) -> str | None:
    """The check of a URL's host before DNS: literal addresses, odd spellings and names."""
    if host.startswith("[") or ":" in host:
        return refusal_for_address(host)
    name = host.lower().rstrip(".")
    if not name:
        return "the URL has no host"
    if not name.isascii():
        return f"{host} is not ASCII; write the host in its xn-- (punycode) form"
    if not _NAME.match(name) or len(name) > 253:
        return f"{host[:100]} is not a valid host name"
    if _NUMBER.match(name.rsplit(".", 1)[-1]):
        address = _loose_ipv4(name)
        if address is None:
            return f"{host} is neither a host name nor a valid IPv4 address"
        reason = _address_reason(address)
        if reason is None:
            return None
        return f"{host} is {address}, {reason}" if str(address) != host else f"{host} is {reason}"
    if _in_names(name, METADATA_HOST_NAMES):
        return f"{host} is a cloud metadata host name (never allowed)"
    if name == "localhost" or name.endswith(".localhost"):
        for loopback in ("127.0.0.1", "::1"):
            reason = _address_reason(ipaddress.ip_address(loopback))
            if reason is not None:
                return f"{host} names loopback ({loopback} is {reason})"
    entry = _most_specific_name(name, _policy())
    if entry is not None and not entry.allow:
        return f"{host} is denied by GATEWAY_OUTBOUND_DENY ({entry.pattern})"
    return None


def check_url(url: str, purpose: str) -> None:
    """Refuse (ValidationError) a URL whose host the outbound policy denies.

    `purpose` names the field in the message: "upstream URL", "issuer", "JWKS URI".
    Only the host is judged here; schemes and other field rules stay with the field.
    """
    if _URL_UNSAFE.search(url):
        raise ValidationError(
            f"The {purpose} contains spaces, control characters or backslashes.",
            code="outbound_denied",
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValidationError("Enter a valid URL.", code="invalid") from None
    host = _url_host(url)
    if not host:
        raise ValidationError(f"The {purpose} has no host.", code="outbound_denied")
    reason = refusal_for_host(host)
    if reason is not None:
        raise ValidationError(
            f"The {purpose} must not point at {host}: {reason}.", code="outbound_denied"
        )


def refusal_for_gateway_listener(url: str) -> str | None:
    """None unless `url` reaches this gateway itself (a loop); else a short reason."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None  # the field's own validator reports a malformed URL
    host = _url_host(url)
    if not host or port is None or GATEWAY_OWN_UPSTREAM_PATH.match(parts.path):
        return None
    for setting in ("GATEWAY_PUBLIC_BIND", "GATEWAY_ADMIN_BIND", "GATEWAY_INTERNAL_BIND"):
        bind_host, bind_port = _bind(setting)
        if port == bind_port and _same_host(host, bind_host):
            return f"{host}:{port} is this gateway's own listener ({setting})"
    if port in (80, 443) and _normalised_name(host) in _public_names():
        return f"{host} is this gateway's own host name (ALLOWED_HOSTS)"
    return None


# --- addresses ----------------------------------------------------------------------------


def _address_reason(address: Address) -> str | None:
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address (never allowed)"
    for network, label in _NEVER:
        if address in network:
            return f"{label} (never allowed)"
    policy = _policy()
    entry = _most_specific_network(address, policy)
    builtin = _builtin_range(address)
    if entry is not None and not entry.allow:
        return f"denied by GATEWAY_OUTBOUND_DENY ({entry.pattern})"
    if entry is not None and (builtin is None or _inside(entry.network, builtin[0])):
        return None
    if builtin is None:
        return None
    network, kind = builtin
    if kind == "link-local":
        return (
            f"link-local ({network}), denied unless GATEWAY_OUTBOUND_ALLOW names an address "
            "or range inside it"
        )
    if kind == "loopback" and not settings.GATEWAY_OUTBOUND_ALLOW_LOOPBACK:
        return "a loopback address, and GATEWAY_OUTBOUND_ALLOW_LOOPBACK is off"
    if kind == "private" and not settings.GATEWAY_OUTBOUND_ALLOW_PRIVATE:
        return f"in a private range ({network}), and GATEWAY_OUTBOUND_ALLOW_PRIVATE is off"
    return None


def _builtin_range(address: Address) -> tuple[Network, str] | None:
    for kind, networks in (
        ("loopback", LOOPBACK),
        ("link-local", LINK_LOCAL),
        ("private", PRIVATE),
    ):
        for network in networks:
            if address in network:
                return network, kind
    return None


def _inside(entry: Network, network: Network) -> bool:
    return entry.version == network.version and entry.subnet_of(network)


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to an IPv4 host, if any."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64 or address in _IPV4_TRANSLATED:
        return low
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # not :: or ::1
        return low
    return None


def _loose_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """IPv4 as inet_aton (and so getaddrinfo) reads it: 1-4 parts, hex, octal or decimal."""
    parts = text.rstrip(".").split(".")
    if not 1 <= len(parts) <= 4 or len(text) > 253:  # no longer than a DNS name
        return None
    numbers = []
    for part in parts:
        if not _NUMBER.match(part):
            return None
        if part[:2].lower() == "0x":
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if not set(part) <= set("01234567"):
                return None
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    *head, last = numbers
    if any(number > 255 for number in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


# --- settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    pattern: str
    allow: bool
    network: Network | None = None  # None: a host-name pattern


@dataclass(frozen=True)
class _Policy:
    networks: tuple[_Entry, ...]
    names: tuple[_Entry, ...]


def _policy() -> _Policy:
    return _parse_policy(
        tuple(settings.GATEWAY_OUTBOUND_ALLOW), tuple(settings.GATEWAY_OUTBOUND_DENY)
    )


@functools.lru_cache(maxsize=8)
def _parse_policy(allow: tuple[str, ...], deny: tuple[str, ...]) -> _Policy:
    networks, names = [], []
    for setting, entries, is_allow in (
        ("GATEWAY_OUTBOUND_ALLOW", allow, True),
        ("GATEWAY_OUTBOUND_DENY", deny, False),
    ):
        for raw in entries:
            entry = _parse_entry(setting, raw.strip(), is_allow)
            (names if entry.network is None else networks).append(entry)
    return _Policy(tuple(networks), tuple(names))


def _parse_entry(setting: str, raw: str, allow: bool) -> _Entry:
    try:
        network = ipaddress.ip_network(raw.strip("[]"), strict=False)
    except ValueError:
        pass
    else:
        if network.version == 6 and network.subnet_of(_IPV4_MAPPED):
            # Addresses are checked as the IPv4 they carry, so the entry must be IPv4 too.
            network = ipaddress.ip_network(
                (int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96)
            )
        return _Entry(raw, allow, network)
    pattern = raw.lower().rstrip(".")
    if pattern.isascii() and _PATTERN.match(pattern) and not _NUMBER.match(pattern.split(".")[-1]):
        return _Entry(pattern, allow)
    raise ImproperlyConfigured(
        f"{setting}: {raw!r} is not a host name, '*.' pattern, IP address or CIDR"
    )


def validate_settings(allow: list[str], deny: list[str], binds: dict[str, str]) -> None:
    """Raise ImproperlyConfigured naming the variable of a malformed entry (settings.py)."""
    _parse_policy(tuple(allow), tuple(deny))
    for setting, raw in binds.items():
        parse_bind(setting, raw)


def _most_specific_network(address: Address, policy: _Policy) -> _Entry | None:
    best = None
    for entry in policy.networks:
        if entry.network.version != address.version or address not in entry.network:
            continue
        if (
            best is None
            or entry.network.prefixlen > best.network.prefixlen
            or (entry.network.prefixlen == best.network.prefixlen and not entry.allow)
        ):
            best = entry
    return best


def _most_specific_name(name: str, policy: _Policy) -> _Entry | None:
    best, best_rank = None, -1
    for entry in policy.names:
        rank = _name_rank(entry.pattern, name)
        if rank < 0:
            continue
        if rank > best_rank or (rank == best_rank and not entry.allow):
            best, best_rank = entry, rank
    return best


def _name_rank(pattern: str, name: str) -> int:
    """-1: no match; else higher is more specific (exact beats any wildcard)."""
    if pattern == "*":
        return 0
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return suffix.count(".") if name.endswith(suffix) else -1
    return 1000 if pattern == name else -1


def _in_names(name: str, names: frozenset[str]) -> bool:
    return any(name == known or name.endswith("." + known) for known in names)


# --- the gateway's own listeners -------------------------------------------------------------


def _bind(setting: str) -> tuple[str, int]:
    return parse_bind(setting, getattr(settings, setting))


def parse_bind(setting: str, raw: str) -> tuple[str, int]:
    """("host", port) of a "host:port" listener setting; "[::1]:8000" works too."""
    host, _, port = raw.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ImproperlyConfigured(f"{setting} must be host:port, not {raw!r}")
    return host.strip("[]").lower(), int(port)


def _same_host(host: str, bind_host: str) -> bool:
    mine, theirs = _as_address(host), _as_address(bind_host)
    if bind_host in {"", "*"} or (theirs is not None and theirs.is_unspecified):
        # Listening on every interface: loopback, this machine's name and addresses.
        return (
            mine is None
            and _normalised_name(host) in {"localhost", _normalised_name(socket.gethostname())}
        ) or (mine is not None and (mine.is_loopback or mine.is_unspecified or _is_local(mine)))
    if theirs is not None and theirs.is_loopback:
        return _is_loopback_host(host, mine)
    if mine is not None and theirs is not None:
        return mine == theirs
    return _normalised_name(host) == _normalised_name(bind_host)


def _is_loopback_host(host: str, address: Address | None) -> bool:
    if address is not None:
        return address.is_loopback or address.is_unspecified
    name = _normalised_name(host)
    return name == "localhost" or name.endswith(".localhost")


def _is_local(address: Address) -> bool:
    """Whether `address` is one of this machine's own (best effort, no DNS beyond /etc/hosts)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return any(_as_address(info[4][0]) == address for info in infos)


def _as_address(host: str) -> Address | None:
    text = host.strip("[]").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = _loose_ipv4(text) if _NUMBER.match(text.rstrip(".").rsplit(".", 1)[-1]) else None
    if address is None:
        return None
    return _embedded_ipv4(address) or address


def _normalised_name(host: str) -> str:
    return host.lower().rstrip(".")


def _public_names() -> set[str]:
    """Exact, non-loopback host names the gateway answers to (ALLOWED_HOSTS)."""
    names = set()
    for entry in settings.ALLOWED_HOSTS:
        name = _normalised_name(entry.strip("[]"))
        exact = name and "*" not in name and not name.startswith(".") and name != "testserver"
        if exact and not _is_loopback_host(name, _as_address(name)):
            names.add(name)
    return names


def _url_host(url: str) -> str:
    """The URL's host as written (brackets removed), or ''."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""
