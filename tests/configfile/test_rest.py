"""The same over REST, for CI systems: administrators only, problems as problem+json."""

import pytest

from accounts.roles import Role
from configfile.export import export_text

EXPORT, DIFF, APPLY = "/api/v1/config/export", "/api/v1/config/diff", "/api/v1/config/apply"


def post_file(client, url: str, text: str, content_type="application/yaml"):
    return client.generic("POST", url, text.encode(), content_type=content_type)


def test_export_diff_and_apply_over_rest(gateway, staff_client):
    exported = staff_client.get(EXPORT)
    assert exported.status_code == 200
    assert exported["Content-Type"] == "application/yaml; charset=utf-8"
    assert exported["Cache-Control"] == "no-store"
    text = exported.content.decode()
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
    text = export_text() + "- {name: ci-made, identifying_claims: {client_id: ci}}\n"
    body = post_file(staff_client, APPLY, text).json()
    [generated] = body["generated_secrets"]
    assert generated["application"] == "ci-made" and len(generated["client_secret"]) > 30
    again = post_file(staff_client, APPLY, text).json()
    assert again["generated_secrets"] == [] and again["changed"] is False


def test_a_bad_file_is_a_400_listing_every_problem(gateway, staff_client):
    response = post_file(
        staff_client, APPLY, "gatekeep: 1\napis:\n- {base_path: /a, name: 1, colour: red}\n"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "config_invalid"
    assert body["problems"] == [
        {"where": "apis[/a].colour", "line": 3, "message": body["problems"][0]["message"]},
        {"where": "apis[/a].name", "line": 3, "message": "Expected a string, got a number."},
        {"where": "apis[/a]", "line": 3, "message": "The key 'upstream_url' is required."},
    ]


def test_a_json_file_is_a_yaml_file(gateway, staff_client):
    response = post_file(staff_client, DIFF, '{"gatekeep": 1}', "application/json")
    assert response.status_code == 200 and response.json()["changed"] is False


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_only_administrators_may_use_configuration_files(gateway, role_client, role):
    client = role_client(role)
    assert client.get(EXPORT).status_code == 403
    response = post_file(client, APPLY, "gatekeep: 1\napplications: []\n?prune=true")
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"


def test_anonymous_callers_are_refused(gateway, anon_client):
    assert anon_client.get(EXPORT).status_code == 401
    assert post_file(anon_client, APPLY, "gatekeep: 1\n").status_code == 401
