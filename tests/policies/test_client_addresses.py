"""Client address lists per API and per application, through trusted proxies only."""

import pytest
from django.core.exceptions import ValidationError

from policies.models import ClientAddressPolicy
from policies.services import save_policy
from tests.policies.conftest import wait_for_config


def test_an_api_deny_list_refuses_the_address_before_the_token_is_read(published, attach):
    attach(ClientAddressPolicy, deny=["127.0.0.0/8"])
    response = published.get(token="not-even-a-token")
    assert response.status_code == 403
    assert response.json()["code"] == "client_address_refused"
    assert published.upstream.hits == 0


def test_an_allow_list_admits_only_its_networks(published, attach):
    policy = attach(ClientAddressPolicy, allow=["10.0.0.0/8", "::1/128"])
    assert published.get(token=published.token()).status_code == 403
    policy.allow = ["10.0.0.0/8", "127.0.0.1/32"]
    save_policy(policy)
    wait_for_config()
    assert published.get(token=published.token()).status_code == 200


def test_a_spoofed_x_forwarded_for_does_not_change_the_address(published, attach, settings):
    attach(ClientAddressPolicy, allow=["203.0.113.7/32"])
    # No trusted proxy: the peer (127.0.0.1) is the client, whatever the header says.
    spoofed = published.get(token=published.token(), headers={"X-Forwarded-For": "203.0.113.7"})
    assert spoofed.status_code == 403
    assert published.upstream.hits == 0


def test_behind_a_trusted_proxy_the_forwarded_client_counts_but_not_beyond_it(published, attach):
    from django.test import override_settings

    from core.client_address import _trusted

    attach(ClientAddressPolicy, allow=["203.0.113.7/32"])
    with override_settings(GATEWAY_TRUSTED_PROXIES=["127.0.0.1"]):
        _trusted.cache_clear()
        ok = published.get(token=published.token(), headers={"X-Forwarded-For": "203.0.113.7"})
        # The client wrote 203.0.113.7 itself; the proxy appended the real 198.51.100.9.
        spoof = published.get(
            token=published.token(), headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.9"}
        )
    _trusted.cache_clear()
    assert ok.status_code == 200
    assert spoof.status_code == 403


def test_an_application_list_applies_to_that_application_only(published, attach):
    save_policy(ClientAddressPolicy(application=published.application, deny=["127.0.0.1"]))
    wait_for_config()
    refused = published.get(token=published.token())
    assert refused.status_code == 403
    assert "application" in refused.json()["detail"]
    # A public route needs no application: its calls are not the application's.
    assert published.get("/health").status_code == 200


def test_bad_networks_are_refused(published):
    with pytest.raises(ValidationError):
        ClientAddressPolicy(api=published.api, allow=["10.0.0.0/33"]).full_clean()
    with pytest.raises(ValidationError):
        ClientAddressPolicy(api=published.api, allow=["not an address"]).full_clean()


NETWORKS = [
    "10.0.0.0/8",
    "10.1.0.0/16",
    "10.1.2.0/24",
    "127.0.0.0/8",
    "192.168.1.7/32",
    "0.0.0.0/0",
    "::1/128",
    "::/0",
    "2001:db8::/32",
    "2001:db8:1::/48",
]
ADDRESSES = [
    "10.1.2.3",
    "10.2.0.1",
    "127.0.0.1",
    "192.168.1.7",
    "192.168.1.8",
    "0.0.0.0",
    "255.255.255.255",
    "::",
    "::1",
    "::2",
    "2001:db8:1::5",
    "2001:db8:2::5",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
]


def test_compiled_lists_admit_exactly_what_the_networks_say():
    """Allow minus deny as one sorted range list gives ipaddress's answer for every mix."""
    import ipaddress
    import random

    from proxy.stages.client_addresses import _V6, compile_lists

    def key(text: str) -> int:
        address = ipaddress.ip_address(text)
        return int(address) + (_V6 if address.version == 6 else 0)

    def expected(allow: list[str], deny: list[str], text: str) -> bool:
        address = ipaddress.ip_address(text)
        if any(address in ipaddress.ip_network(entry) for entry in deny):
            return False
        return not allow or any(address in ipaddress.ip_network(entry) for entry in allow)

    draw = random.Random(19)
    for _ in range(500):
        allow = draw.sample(NETWORKS, draw.randint(0, 3))
        deny = draw.sample(NETWORKS, draw.randint(0, 3))
        lists = compile_lists(allow, deny)
        for text in ADDRESSES:
            assert lists.admits(key(text)) is expected(allow, deny, text), (allow, deny, text)


@pytest.mark.parametrize(
    ("entry", "inside", "outside"),
    [
        ("::ffff:203.0.113.0/120", "203.0.113.5", "203.0.114.5"),
        ("::ffff:0:0/96", "198.51.100.7", "2001:db8::1"),
    ],
)
def test_ipv4_mapped_networks_name_the_ipv4_clients_they_hold(entry, inside, outside):
    """A client at ::ffff:a.b.c.d counts as a.b.c.d; a listed ::ffff:... network must too."""
    import ipaddress

    from proxy.stages.client_addresses import _V6, compile_lists

    def key(text: str) -> int:
        address = ipaddress.ip_address(text)
        return int(address) + (_V6 if address.version == 6 else 0)

    denied = compile_lists([], [entry])
    allowed = compile_lists([entry], [])
    assert not denied.admits(key(inside))
    assert allowed.admits(key(inside))
    assert denied.admits(key(outside))
    assert not allowed.admits(key(outside))
    assert compile_lists([], ["::/0"]).admits(key(inside))  # "all of IPv6" means IPv6
