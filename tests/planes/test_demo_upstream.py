"""The demo upstream exists only where the demo was asked for (GATEWAY_DEMO)."""

import requests


def test_the_demo_echo_is_404_unless_the_demo_is_on(gateway, settings):
    settings.GATEWAY_DEMO = False
    assert requests.get(gateway.internal_url + "/demo/echo/x", timeout=10).status_code == 404
    assert requests.get(gateway.url + "/demo/echo/x", timeout=10).status_code == 404
    settings.GATEWAY_DEMO = True
    answer = requests.get(gateway.internal_url + "/demo/echo/x", timeout=10)
    assert answer.status_code == 200
    assert answer.json()["path"] == "/x"
