"""The deployment-level outbound policy (issue 12): which hosts and addresses the gateway calls."""

import pytest
from django.core.exceptions import ValidationError

from core.outbound_policy import (
    check_url,
    refusal_for_address,
    refusal_for_gateway_listener,
    refusal_for_host,
)

# Every spelling of the AWS/GCP/Azure metadata address a resolver or URL parser accepts.
METADATA_SPELLINGS = [
    "169.254.169.254",
    "0xa9fea9fe",  # one hex number
    "0xA9.0xFE.0xA9.0xFE",
    "2852039166",  # one decimal number
    "0251.0376.0251.0376",  # octal parts
    "169.254.43518",  # inet_aton's a.b.c form
    "169.16689662",  # a.b form
    "169.254.169.254.",  # trailing dot
    "::ffff:169.254.169.254",  # IPv4-mapped IPv6
    "::ffff:a9fe:a9fe",
    "0:0:0:0:0:ffff:a9fe:a9fe",
    "::a9fe:a9fe",  # IPv4-compatible
    "64:ff9b::a9fe:a9fe",  # NAT64
    "2002:a9fe:a9fe::1",  # 6to4
    "fd00:ec2::254",  # AWS IMDS over IPv6
    "100.100.100.200",  # Alibaba Cloud
    "169.254.170.2",  # AWS ECS credentials
    "metadata.google.internal",
    "METADATA.Google.Internal.",
    "metadata",
]


@pytest.mark.parametrize("host", METADATA_SPELLINGS)
def test_every_spelling_of_a_metadata_address_is_refused(host):
    assert "metadata" in refusal_for_host(host)


@pytest.mark.parametrize("host", METADATA_SPELLINGS)
def test_no_allow_entry_opens_a_metadata_address(host, settings):
    settings.GATEWAY_OUTBOUND_ALLOW = ["169.254.169.254", "169.254.0.0/16", "0.0.0.0/0", "*"]
    settings.GATEWAY_OUTBOUND_ALLOW += ["metadata.google.internal", "metadata", "::/0"]
    assert "never allowed" in refusal_for_host(host)


@pytest.mark.parametrize(
    "host",
    ["169.254.1.1", "0xa9fe0101", "::ffff:169.254.1.1", "fe80::1", "fe80::1%eth0", "[fe80::1]"],
)
def test_link_local_is_refused_by_default(host):
    assert "link-local" in refusal_for_host(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "0", "0x0", "0.1.2.3", "::", "::ffff:0.0.0.0", "224.0.0.1", "ff02::1"]
)
def test_unspecified_and_multicast_addresses_are_refused(host):
    assert "never allowed" in refusal_for_host(host)


def test_broadcast_and_reserved_addresses_are_refused():
    assert "never allowed" in refusal_for_host("255.255.255.255")
    assert "never allowed" in refusal_for_host("4294967295")
    assert "never allowed" in refusal_for_host("240.0.0.1")


LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "017700000001",
    "127.0.0.1.",
    "localhost",
    "LOCALHOST.",
    "api.localhost",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_loopback_is_allowed_by_default_for_development_and_tests(host):
    assert refusal_for_host(host) is None


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_every_spelling_of_loopback_is_refused_once_loopback_is_off(host, settings):
    settings.GATEWAY_OUTBOUND_ALLOW_LOOPBACK = False
    assert "GATEWAY_OUTBOUND_ALLOW_LOOPBACK is off" in refusal_for_host(host)


def test_odd_spellings_name_the_address_they_mean(settings):
    settings.GATEWAY_OUTBOUND_ALLOW_LOOPBACK = False
    assert refusal_for_host("0x7f000001").startswith("0x7f000001 is 127.0.0.1, a loopback")
    assert refusal_for_address("::ffff:169.254.169.254") == (
        "::ffff:169.254.169.254 is 169.254.169.254, a cloud metadata address (never allowed)"
    )


@pytest.mark.parametrize("host", ["10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fd12::1"])
def test_private_ranges_are_allowed_by_default_and_deniable(host, settings):
    assert refusal_for_host(host) is None
    settings.GATEWAY_OUTBOUND_ALLOW_PRIVATE = False
    assert "GATEWAY_OUTBOUND_ALLOW_PRIVATE is off" in refusal_for_host(host)


def test_public_addresses_and_names_are_allowed():
    for host in ("203.0.113.10", "8.8.8.8", "2001:db8::1", "idp.example.com", "under_score.corp"):
        assert refusal_for_host(host) is None, host


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.4.5",  # five parts
        "256.0.0.1",
        "08.0.0.1",  # 8 is no octal digit
        "idp.123",  # ends in a number but is no address
        "a b",
        "evil.com\\@127.0.0.1",
        "a..b",
        "127.0.0.1%00",
        "9" * 5000,  # past int()'s digit limit: refused, not a crash
        "a" * 300,
    ],
)
def test_hosts_parsers_disagree_on_are_refused(host):
    assert refusal_for_host(host) is not None


def test_non_ascii_hosts_must_be_written_as_punycode():
    # IDNA 2003 maps both to loopback: a circled l + "ocalhost", fullwidth "127.0.0.1".
    fullwidth_loopback = "\uff11\uff12\uff17.\uff10.\uff10.\uff11"
    for host in ("\u24dbocalhost", fullwidth_loopback):
        assert "xn--" in refusal_for_host(host)


def test_the_deny_list_takes_addresses_cidrs_and_names(settings):
    settings.GATEWAY_OUTBOUND_DENY = ["10.0.0.0/8", "203.0.113.7", "*.corp.example", "db.example"]
    assert "GATEWAY_OUTBOUND_DENY (10.0.0.0/8)" in refusal_for_host("10.9.9.9")
    assert "GATEWAY_OUTBOUND_DENY (10.0.0.0/8)" in refusal_for_host("::ffff:10.9.9.9")
    assert "GATEWAY_OUTBOUND_DENY (10.0.0.0/8)" in refusal_for_host("0x0a090909")
    assert refusal_for_host("203.0.113.7") is not None
    assert refusal_for_host("203.0.113.8") is None
    assert refusal_for_host("idp.corp.example") is not None
    assert refusal_for_host("IDP.CORP.EXAMPLE.") is not None
    assert refusal_for_host("corp.example") is None  # "*." is the subdomains only
    assert refusal_for_host("db.example") is not None
    assert refusal_for_host("api.db.example") is None


def test_the_most_specific_entry_wins_and_a_tie_goes_to_deny(settings):
    settings.GATEWAY_OUTBOUND_DENY = ["10.0.0.0/8", "0.0.0.0/0", "*", "*.corp.example", "x.example"]
    settings.GATEWAY_OUTBOUND_ALLOW = ["10.1.0.0/16", "idp.corp.example", "203.0.113.0/24"]
    settings.GATEWAY_OUTBOUND_ALLOW += ["x.example"]
    assert refusal_for_host("10.1.2.3") is None
    assert refusal_for_host("10.2.0.1") is not None
    assert refusal_for_host("203.0.113.5") is None
    assert refusal_for_host("198.51.100.1") is not None  # "deny everything else"
    assert refusal_for_host("idp.corp.example") is None
    assert refusal_for_host("other.corp.example") is not None
    assert refusal_for_host("x.example") is not None  # in both lists: deny


def test_a_broad_allow_entry_never_opens_link_local_but_a_narrow_one_does(settings):
    settings.GATEWAY_OUTBOUND_ALLOW = ["0.0.0.0/0", "169.0.0.0/8", "::/0"]
    assert "link-local" in refusal_for_host("169.254.10.5")
    assert "link-local" in refusal_for_host("fe80::5")
    settings.GATEWAY_OUTBOUND_ALLOW = ["169.254.10.0/24", "fe80::5"]
    assert refusal_for_host("169.254.10.5") is None
    assert refusal_for_host("fe80::5") is None
    assert "link-local" in refusal_for_host("169.254.11.5")


def test_an_allow_entry_inside_loopback_reopens_only_that_part(settings):
    settings.GATEWAY_OUTBOUND_ALLOW_LOOPBACK = False
    settings.GATEWAY_OUTBOUND_ALLOW = ["127.0.0.53", "0.0.0.0/0"]
    assert refusal_for_host("127.0.0.53") is None
    assert refusal_for_host("127.0.0.1") is not None


def test_an_ipv4_mapped_entry_matches_the_ipv4_address(settings):
    settings.GATEWAY_OUTBOUND_DENY = ["::ffff:10.0.0.0/104"]
    assert refusal_for_host("10.1.1.1") is not None


def test_a_name_allow_entry_never_overrides_the_address_check(settings):
    settings.GATEWAY_OUTBOUND_ALLOW = ["metadata.google.internal", "idp.corp.example"]
    settings.GATEWAY_OUTBOUND_DENY = ["10.0.0.0/8"]
    assert refusal_for_host("metadata.google.internal") is not None
    assert refusal_for_host("idp.corp.example") is None
    assert refusal_for_address("10.0.0.5") is not None  # what idp.corp.example resolves to


def test_refusal_for_address_takes_resolver_output():
    assert refusal_for_address("127.0.0.1") is None
    assert refusal_for_address("::1") is None
    assert refusal_for_address("fe80::1%eth0") is not None
    assert refusal_for_address("169.254.169.254") is not None
    assert refusal_for_address("not-an-ip") == "not-an-ip is not an IP address"


def test_check_url_raises_a_validation_error_naming_the_purpose():
    with pytest.raises(ValidationError) as refused:
        check_url("https://[::ffff:169.254.169.254]/latest/meta-data/", "JWKS URI")
    assert refused.value.messages == [
        "The JWKS URI must not point at ::ffff:169.254.169.254: ::ffff:169.254.169.254 is "
        "169.254.169.254, a cloud metadata address (never allowed)."
    ]
    assert refused.value.code == "outbound_denied"
    check_url("https://idp.example.com/jwks", "JWKS URI")
    check_url("http://127.0.0.1:8080/", "upstream URL")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254\\@127.0.0.1/",  # urllib3 and urlsplit split this differently
        "http://127.0.0.1 /",
        "http://127.0.0.1:99999/",
        "http:///path",
    ],
)
def test_check_url_refuses_urls_parsers_disagree_on(url):
    with pytest.raises(ValidationError):
        check_url(url, "upstream URL")


# --- the gateway's own listeners ---------------------------------------------------------


def test_an_upstream_on_the_gateways_own_listeners_is_a_loop(settings):
    settings.GATEWAY_PUBLIC_BIND = "127.0.0.1:8000"
    settings.GATEWAY_ADMIN_BIND = "127.0.0.1:8001"
    for url in (
        "http://127.0.0.1:8000/gateway/petstore/v1",
        "http://127.0.0.1:8000",
        "http://localhost:8000/",
        "http://0x7f000001:8000/",
        "http://[::ffff:127.0.0.1]:8000/",
        "http://127.0.0.1:8001/api/v1/",
        "http://127.0.0.1:8001/demo/echo/../../api/v1",
        "http://127.0.0.1:8000/demo/echo/../../gateway",
        "http://127.0.0.1:8000/demo/echo/%2e%2e/%2e%2e/gateway",
    ):
        assert refusal_for_gateway_listener(url) is not None, url
    assert "GATEWAY_ADMIN_BIND" in refusal_for_gateway_listener("http://localhost:8001/admin/")


def test_other_ports_and_the_demo_echo_are_not_the_gateway(settings):
    settings.GATEWAY_PUBLIC_BIND = "127.0.0.1:8000"
    settings.GATEWAY_ADMIN_BIND = "127.0.0.1:8001"
    settings.GATEWAY_INTERNAL_BIND = "127.0.0.1:8002"
    for url in (
        "http://127.0.0.1:8003/",
        "http://127.0.0.1/",
        "https://backend.example.com/",
        "http://127.0.0.1:8002/demo/echo",  # manage.py gateway_demo's upstream
        "http://127.0.0.1:8002/demo/echo/",
    ):
        assert refusal_for_gateway_listener(url) is None, url


def test_a_wildcard_bind_covers_every_local_spelling(settings):
    settings.GATEWAY_PUBLIC_BIND = "0.0.0.0:9000"
    for url in ("http://127.0.0.1:9000/", "http://[::1]:9000/", "http://localhost:9000/"):
        assert refusal_for_gateway_listener(url) is not None, url
    assert refusal_for_gateway_listener("http://203.0.113.9:9000/") is None


def test_the_gateways_public_host_name_is_a_loop_through_the_load_balancer(settings):
    settings.ALLOWED_HOSTS = ["gateway.example.com", "localhost", ".example.org", "*"]
    assert refusal_for_gateway_listener("https://gateway.example.com/gateway/x") is not None
    assert refusal_for_gateway_listener("http://GATEWAY.example.com./") is not None
    assert refusal_for_gateway_listener("https://gateway.example.com:8443/") is None
    assert refusal_for_gateway_listener("https://api.example.org/") is None
