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
