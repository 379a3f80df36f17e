"""A script configures and publishes an API from scratch through the REST API alone,
over real HTTP, then calls it through the gateway with a token from a real IdP."""

import time

import pytest
import requests
from rest_framework.authtoken.models import Token

from accounts.roles import Role
from tests.personas import staff_member
from tests.tokens import claims_for, sign


class AdminScript:
    """What an automation script does: JSON over HTTP with a token, nothing else."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def call(self, method: str, path: str, expect: int, json=None) -> dict:
        response = self.session.request(method, self.base_url + path, json=json, timeout=10)
        assert response.status_code == expect, (method, path, response.text)
        return response.json() if response.content else {}


def wait_for_status(url: str, token: str, expected: int, limit: float) -> tuple[int, float]:
    """Poll until the gateway answers `expected`; returns (last status, seconds waited)."""
    started = time.monotonic()
    while True:
        status = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        waited = time.monotonic() - started
        if status.status_code == expected or waited > limit:
            return status.status_code, waited
        time.sleep(0.02)


@pytest.mark.parametrize("key_source", ["discovery", "jwks_uri"])
def test_a_script_publishes_an_api_and_the_gateway_serves_it(
    gateway, idp, upstream, rsa_key, key_source
):
    staff = staff_member("ci", Role.ADMINISTRATOR)
    script = AdminScript(f"{gateway.admin_url}/api/v1", Token.objects.create(user=staff).key)

    server_fields = {"name": "Corporate IdP", "kind": "external", "issuer": idp.issuer}
    if key_source == "jwks_uri":
        server_fields["jwks_uri"] = f"{idp.url}/jwks"
    server = script.call("POST", "/authorization-servers/", 201, server_fields)
    refreshed = script.call("POST", f"/authorization-servers/{server['id']}/refresh-jwks/", 200)
    assert refreshed["ok"] is True and "rsa-1" in refreshed["key_ids"]

    api = script.call(
        "POST",
        "/apis/",
        201,
        {
            "name": "Inventory",
            "version": "v2",
            "base_path": "/inventory/v2",
            "upstream_url": f"{upstream.url}/svc",
            "kind": "REST",
        },
    )
    routes = f"/apis/{api['id']}/routes/"
    script.call("POST", routes, 201, {"method": "GET", "path": "/items/{id}"})
    script.call(
        "POST", routes, 201, {"method": "POST", "path": "/items", "required_scopes": ["inv:write"]}
    )
    problems = script.call("POST", f"/apis/{api['id']}/activate/", 400)["problems"]
    assert problems == ['Attach the "Identify and authorize application" policy.']
    script.call(
        "PUT",
        f"/apis/{api['id']}/policy/",
        200,
        {
            "authorization_servers": [server["id"]],
            "identity_source": "header",
            "identity_name": "Authorization",
            "audiences": ["inventory"],
            "required_scopes": ["inv:read"],
            "forward_claims": {"sub": "X-User"},
        },
    )
    application = script.call(
        "POST",
        "/applications/",
        201,
        {"name": "Warehouse robot", "identifying_claims": {"client_id": "robot-7"}, "apis": []},
    )
    assert application["client_secret"]
    script.call("PATCH", f"/applications/{application['id']}/", 200, {"apis": [api["id"]]})

    assert script.call("POST", f"/apis/{api['id']}/activate/", 200) == {"status": "active"}

    token = sign(
        rsa_key, claims_for(idp.issuer, aud="inventory", client_id="robot-7", scope="inv:read")
    )
    item_url = f"{gateway.url}/gateway/inventory/v2/items/42"
    status, waited = wait_for_status(item_url, token, 200, limit=1.0)
    assert status == 200, "the activation did not reach the proxy"
    assert waited < 1.0
    seen = upstream.last
    assert (seen["method"], seen["path"]) == ("GET", "/svc/items/42")
    assert seen["headers"]["x-gateway-application"] == "Warehouse robot"
    assert seen["headers"]["x-user"] == "user-42"

    inspection = script.call(
        "POST",
        "/token-inspector/",
        200,
        {"token": token, "api": api["id"], "method": "POST", "path": "/items"},
    )
    assert (inspection["allowed"], inspection["code"]) == (False, "insufficient_scope")

    assert script.call("POST", f"/apis/{api['id']}/deactivate/", 200) == {"status": "inactive"}
    status, waited = wait_for_status(item_url, token, 404, limit=1.0)
    assert status == 404, "the deactivation did not reach the proxy"
    assert waited < 1.0
    hits = upstream.hits
    gone = requests.get(item_url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert gone.json()["code"] == "api_not_found"
    assert upstream.hits == hits

    actions = [
        (e["action"], e["object_type"])
        for e in script.call("GET", "/audit-events/", 200)["results"]
    ]
    for expected in [
        ("create", "authorizationserver"),
        ("create", "api"),
        ("create", "route"),
        ("create", "identifyandauthorizepolicy"),
        ("create", "application"),
        ("update", "application"),
        ("activate", "api"),
        ("deactivate", "api"),
    ]:
        assert expected in actions
    assert {e["actor_name"] for e in script.call("GET", "/audit-events/", 200)["results"]} == {"ci"}
