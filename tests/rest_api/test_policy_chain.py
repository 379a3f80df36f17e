"""The policy chain through the REST API: singletons, collections, target state, roles."""

import pytest

from accounts.roles import Role
from apis.models import Api
from applications.models import Application
from policies.models import CorsPolicy, UpstreamTarget
from policies.target_state import report


@pytest.fixture
def api(db):
    return Api.objects.create(
        name="Shop", version="v1", base_path="/shop/v1", upstream_url="http://127.0.0.1:9/x"
    )


def test_cors_is_put_read_and_deleted(staff_client, api):
    url = f"/api/v1/apis/{api.id}/cors/"
    assert staff_client.get(url).status_code == 404
    body = {"allowed_origins": ["https://app.example.com"], "allow_credentials": True}
    response = staff_client.put(url, body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["allowed_methods"] == ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    assert staff_client.get(url).json()["allowed_origins"] == ["https://app.example.com"]
    assert staff_client.delete(url).status_code == 204
    assert not CorsPolicy.objects.exists()


def test_the_model_rules_answer_as_field_errors(staff_client, api):
    response = staff_client.put(
        f"/api/v1/apis/{api.id}/cors/", {"allowed_origins": ["null"]}, format="json"
    )
    assert response.status_code == 400
    assert "allowed_origins" in response.json()["errors"]
    response = staff_client.post(
        f"/api/v1/apis/{api.id}/transformations/",
        {
            "target": "request_header",
            "operation": "set",
            "name": "X-Forwarded-For",
            "source": "constant",
            "value": "1.2.3.4",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_targets_show_the_state_workers_reported(staff_client, api):
    response = staff_client.post(
        f"/api/v1/apis/{api.id}/targets/",
        {"url": "http://127.0.0.1:9001", "weight": 3},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["state"] is None
    target = UpstreamTarget.objects.get()
    report(
        target.id,
        {
            "healthy": False,
            "reason": "ejected after 3 failed calls: refused",
            "changed_at": 1.0,
            "reported_at": 2.0,
            "active_connections": 0,
            "worker": "node-1:42",
        },
    )
    listed = staff_client.get(f"/api/v1/apis/{api.id}/targets/").json()["results"]
    assert listed[0]["state"]["healthy"] is False
    assert listed[0]["state"]["worker"] == "node-1:42"


def test_application_client_addresses(staff_client, db):
    application = Application.objects.create(name="A")
    url = f"/api/v1/applications/{application.id}/client-addresses/"
    response = staff_client.put(url, {"allow": ["10.0.0.0/8", "2001:db8::/32"]}, format="json")
    assert response.status_code == 200, response.json()
    assert staff_client.put(url, {"deny": ["nope"]}, format="json").status_code == 400


def test_a_viewer_reads_but_cannot_change_the_chain(role_client, api):
    viewer = role_client(Role.VIEWER)
    url = f"/api/v1/apis/{api.id}/request-limits/"
    assert viewer.get(url).status_code == 404
    assert viewer.put(url, {"max_body_bytes": 10}, format="json").status_code == 403
    assert viewer.get(f"/api/v1/apis/{api.id}/targets/").status_code == 200
