"""The same over REST, for CI systems: administrators only, problems as field errors."""

import pytest

from accounts.roles import Role
from configfile.export import export_text
from tests.configfile.conftest import applications_last

EXPORT, DIFF, APPLY = "/api/v1/config/export/", "/api/v1/config/diff/", "/api/v1/config/apply/"


def post_file(client, url: str, document):
    return client.post(url, {"document": document}, format="json")


def test_export_diff_and_apply_over_rest(gateway, staff_client):
    exported = staff_client.get(EXPORT)
    assert exported.status_code == 200
    assert exported["Cache-Control"] == "no-store"
    text = exported.json()["document"]
    assert text == export_text()

    same = post_file(staff_client, DIFF, text)
    assert same.status_code == 200 and same.json()["changed"] is False

    edited = text.replace("Shop number 1", "Edited over REST")
    planned = post_file(staff_client, DIFF, edited).json()
    assert planned["changes"] == [
        {
            "kind": "apis",
            "name": "/shop1/v1",
            "action": "update",
            "fields": [
                {"field": "description", "before": "Shop number 1", "after": "Edited over REST"}
            ],
        }
    ]
    applied = post_file(staff_client, APPLY + "?dry_run=true", edited)
    assert applied.json()["applied"] is False and applied.json()["dry_run"] is True
    assert "Edited over REST" not in export_text()
    applied = post_file(staff_client, APPLY, edited)
    assert applied.status_code == 200 and applied.json()["applied"] is True
    assert "Edited over REST" in export_text()


def test_apply_over_rest_returns_generated_secrets_once(gateway, staff_client):
    text = applications_last() + "- {name: ci-made, identifying_claims: {client_id: ci}}\n"
    dry = post_file(staff_client, APPLY + "?dry_run=1", text).json()
    assert dry["generated_secrets"] == [] and dry["counts"]["create"] == 1
    response = post_file(staff_client, APPLY, text)
    assert response["Cache-Control"] == "no-store"
    [generated] = response.json()["generated_secrets"]
    assert generated["application"] == "ci-made" and len(generated["client_secret"]) > 30
    again = post_file(staff_client, APPLY, text).json()
    assert again["generated_secrets"] == [] and again["changed"] is False


def test_a_bad_file_is_a_400_listing_every_problem_by_its_place(gateway, staff_client):
    response = post_file(
        staff_client, APPLY, "gatekeep: 1\napis:\n- {base_path: /a, name: 1, colour: red}\n"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "validation_failed"
    assert list(body["errors"]) == ["apis[/a].colour", "apis[/a].name", "apis[/a]"]
    assert body["errors"]["apis[/a]"] == ["The key 'upstream_url' is required. (line 3)"]
    assert body["errors"]["apis[/a].name"] == ["Expected a string, got a number. (line 3)"]


def test_the_document_may_be_a_json_object(gateway, staff_client):
    response = post_file(staff_client, DIFF, {"gatekeep": 1, "applications": []})
    assert response.status_code == 200
    assert response.json()["changed"] is False
    assert len(response.json()["kept"]) == 3


def test_env_references_are_refused_over_rest(gateway, staff_client, monkeypatch):
    monkeypatch.setenv("GATEWAY_ONLY_SECRET", "a-secret-of-the-gateway-host")
    text = applications_last() + "- {name: x, client_secret: {env: GATEWAY_ONLY_SECRET}}\n"
    response = post_file(staff_client, APPLY, text)
    assert response.status_code == 400
    [message] = response.json()["errors"]["applications[x].client_secret"]
    assert "over the REST API" in message


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_only_administrators_may_use_configuration_files(gateway, role_client, role):
    client = role_client(role)
    assert client.get(EXPORT).status_code == 403
    response = post_file(client, APPLY + "?prune=true", "gatekeep: 1\napplications: []\n")
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"
    assert len(export_text().split("- name: client-")) == 4


def test_anonymous_callers_are_refused(gateway, anon_client):
    assert anon_client.get(EXPORT).status_code == 401
    assert post_file(anon_client, APPLY, "gatekeep: 1\n").status_code == 401
