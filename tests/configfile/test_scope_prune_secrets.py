"""Selective scope, --prune, secret references, and the command's exit codes."""

import io

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import CommandError, call_command

from applications.models import Application
from configfile.apply import apply, diff
from configfile.export import export_text
from configfile.problems import ConfigInvalid
from tests.configfile.conftest import applications_last


def test_a_selective_export_holds_one_api_and_the_servers_it_trusts(gateway):
    text = export_text(["/shop1/v1"])
    assert "base_path: /shop1/v1" in text
    assert "/shop0/v1" not in text
    assert "name: gatekeep" in text
    assert "applications" not in text
    assert text.startswith("gatekeep: 1\nscope:\n  apis:\n  - /shop1/v1\n")
    assert export_text(["Shop 1"]) == text  # by name, when it names one API


def test_a_selective_apply_touches_only_its_api_even_with_prune(gateway):
    text = export_text(["/shop1/v1"]).replace("Shop number 1", "Scoped edit")
    plan = diff(text, prune=True)
    assert [change.where for change in plan.changes] == ["apis[/shop1/v1]"]
    apply(text, prune=True)
    full = export_text()
    assert "Scoped edit" in full and "base_path: /shop0/v1" in full
    assert Application.objects.count() == 3


def test_without_prune_what_the_file_leaves_out_is_kept_and_listed(gateway):
    text = export_text()
    head, _, _ = text.partition("- name: client-0002")
    plan = diff(head)
    assert plan.empty
    assert plan.kept == ["applications[client-0002]"]
    pruned = apply(head, prune=True)
    assert [c.where for c in pruned.plan.changes] == ["applications[client-0002]"]
    assert not Application.objects.filter(name="client-0002").exists()


def test_a_kind_the_file_leaves_out_is_not_managed(gateway):
    apply("gatekeep: 1\napplications: []\n", prune=True)
    assert Application.objects.count() == 0
    assert "base_path: /shop0/v1" in export_text()


def test_secrets_come_from_references_and_change_only_when_the_secret_does(
    gateway, monkeypatch, tmp_path
):
    monkeypatch.setenv("BILLING_SECRET", "s3cret-from-the-environment")
    (tmp_path / "partner.txt").write_text("s3cret-from-a-file-on-disk\n")
    text = applications_last() + (
        "- {name: billing, client_secret: {env: BILLING_SECRET}}\n"
        "- {name: partner, client_secret: {file: partner.txt}}\n"
    )
    result = apply(text, base_dir=tmp_path)
    assert result.generated == []
    billing = Application.objects.get(name="billing").oauth_client.client_secret
    assert check_password("s3cret-from-the-environment", billing)
    partner = Application.objects.get(name="partner").oauth_client.client_secret
    assert check_password("s3cret-from-a-file-on-disk", partner)
    assert "s3cret" not in export_text(secret_hashes=True)

    assert diff(text, base_dir=tmp_path).empty
    monkeypatch.setenv("BILLING_SECRET", "a-new-secret-from-the-environment")
    plan = diff(text, base_dir=tmp_path)
    assert [(c.where, c.fields) for c in plan.changes] == [
        ("applications[billing]", [("client_secret", "(secret)", "(new secret)")])
    ]
    apply(text, base_dir=tmp_path)
    billing = Application.objects.get(name="billing").oauth_client.client_secret
    assert check_password("a-new-secret-from-the-environment", billing)


def test_a_missing_secret_is_a_problem_not_a_generated_secret(gateway, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ConfigInvalid) as caught:
        apply(applications_last() + "- {name: x, client_secret: {env: NOT_SET_ANYWHERE}}\n")
    assert [str(p) for p in caught.value.problems] == [
        "applications[x].client_secret: The environment variable NOT_SET_ANYWHERE is not set."
    ]
    assert not Application.objects.filter(name="x").exists()


def test_over_rest_env_and_file_references_are_refused(gateway, monkeypatch):
    monkeypatch.setenv("SECRET_FROM_GATEWAY", "the-gateways-own-secret-value")
    with pytest.raises(ConfigInvalid) as caught:
        apply(
            applications_last() + "- {name: x, client_secret: {env: SECRET_FROM_GATEWAY}}\n",
            local=False,
        )
    assert "over the REST API" in str(caught.value.problems[0])


def test_the_command_exits_1_on_drift_and_reports_problems_without_a_trace(gateway, tmp_path):
    path = tmp_path / "gatekeep.yaml"
    call_command("gatekeep_config", "export", "-o", str(path))
    out = io.StringIO()
    call_command("gatekeep_config", "diff", str(path), stdout=out)
    assert "No changes" in out.getvalue()

    path.write_text(path.read_text().replace("Shop number 1", "Edited"))
    with pytest.raises(SystemExit) as exited:
        call_command("gatekeep_config", "diff", str(path), stdout=io.StringIO())
    assert exited.value.code == 1
    out = io.StringIO()
    call_command("gatekeep_config", "apply", "--dry-run", str(path), stdout=out)
    assert "~ update apis[/shop1/v1]" in out.getvalue()
    assert "Shop number 1" in export_text()
    call_command("gatekeep_config", "apply", str(path), stdout=io.StringIO())
    assert "Edited" in export_text()

    path.write_text("gatekeep: 1\napis: [{base_path: /z, name: Z}]\n")
    with pytest.raises(CommandError) as caught:
        call_command("gatekeep_config", "apply", str(path))
    assert str(caught.value) == (
        "1 problem in the configuration file; nothing was changed.\n"
        "  - apis[/z] (line 2): The key 'upstream_url' is required."
    )
