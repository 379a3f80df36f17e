"""The address lockouts and rate limits key on: X-Forwarded-For only from trusted proxies."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from core.client_address import client_address


def address(remote: str, forwarded: str | None = None) -> str | None:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_address(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


def test_without_trusted_proxies_the_peer_is_the_client(settings):
    settings.GATEWAY_TRUSTED_PROXIES = []

    assert address("203.0.113.7", "192.0.2.1") == "203.0.113.7"


def test_an_untrusted_peer_cannot_name_another_client(settings):
    settings.GATEWAY_TRUSTED_PROXIES = ["10.0.0.1"]

    assert address("203.0.113.7", "192.0.2.1") == "203.0.113.7"


def test_behind_trusted_proxies_the_nearest_untrusted_hop_is_the_client(settings):
    settings.GATEWAY_TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/32"]

    assert address("10.0.0.1", "192.0.2.1") == "192.0.2.1"
    # The client wrote the left part itself; the proxies appended the rest.
    assert address("10.0.0.1", "198.51.100.9, 192.0.2.1, 10.0.0.2") == "192.0.2.1"
    assert address("2001:db8::1", " 192.0.2.1 ") == "192.0.2.1"


def test_garbage_in_the_header_stops_at_the_last_trusted_hop(settings):
    settings.GATEWAY_TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert address("10.0.0.1", "not-an-address") == "10.0.0.1"
    assert address("10.0.0.1", "") == "10.0.0.1"
    assert address("10.0.0.1", "192.0.2.1, junk, 10.0.0.3") == "10.0.0.3"


def test_only_proxies_in_the_chain_means_the_farthest_proxy(settings):
    settings.GATEWAY_TRUSTED_PROXIES = ["10.0.0.0/8"]

    assert address("10.0.0.1", "10.0.0.9, 10.0.0.2") == "10.0.0.9"


def test_no_usable_peer_address_is_none(settings):
    assert address("") is None
    assert address("unix:socket") is None


def test_a_bad_trusted_proxy_entry_is_a_configuration_error(settings):
    settings.GATEWAY_TRUSTED_PROXIES = ["10.0.0.0/33"]

    with pytest.raises(ImproperlyConfigured, match="GATEWAY_TRUSTED_PROXIES"):
        address("10.0.0.1")
