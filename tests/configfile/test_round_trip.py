"""Export, wipe, apply, export: the same bytes; and applying a file twice changes nothing."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from configfile.apply import apply, diff
from configfile.export import export_text
from configfile.schema import json_schema, json_schema_text
from core.models import AuditEvent
from tests.configfile.conftest import audit_count, build_gateway, version, wipe

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "gatekeep-config.schema.json"


def test_export_wipe_apply_export_gives_the_same_bytes(db):
    build_gateway(apis=6, routes=8, applications=40)
    first = export_text(secret_hashes=True)
    wipe()
    assert "client-0001" not in export_text()
    result = apply(first)
    assert result.applied
    assert result.generated == []  # every secret came back from its hash
    assert export_text(secret_hashes=True) == first


def test_a_round_trip_without_hashes_generates_each_secret_once(db):
    build_gateway(apis=1, routes=1, applications=3)
    first = export_text()
    wipe()
    result = apply(first)
    assert sorted(name for name, _, _ in result.generated) == [
        "client-0000",
        "client-0001",
        "client-0002",
    ]
    # The client ids were kept, so clients configured elsewhere keep their id.
    assert export_text() == first


def test_the_same_config_exports_the_same_bytes(gateway):
    assert export_text() == export_text()


def test_applying_the_same_file_twice_changes_nothing_the_second_time(gateway, committed):
    text = export_text()
    text = text.replace("Shop number 0", "Shop number zero")
    before = version()
    with committed():
        assert apply(text).applied
    # A description: audited, but nothing the data plane reads, so no new version (issue 21).
    assert version() == before
    after_first, events = version(), audit_count()

    with committed():
        second = apply(text)
    assert second.applied is False
    assert second.plan.empty
    assert version() == after_first
    assert audit_count() == events
    assert diff(text).empty


def test_one_apply_is_one_version_and_one_event_per_changed_resource_plus_one(gateway, committed):
    text = export_text()
    text = text.replace("Shop number 0", "Shop zero").replace("Shop number 1", "Shop one")
    number_before = int(version().split(".")[0])
    first_event = AuditEvent.objects.order_by("-id").first().id
    with committed():
        apply(text, actor="ci")
    # Descriptions only: nothing the data plane reads, so not even one version (issue 21).
    assert int(version().split(".")[0]) == number_before
    events = list(AuditEvent.objects.filter(id__gt=first_event).order_by("id"))
    assert [(e.action, e.object_type, e.object_repr) for e in events] == [
        ("update", "api", "Shop 0 v1"),
        ("update", "api", "Shop 1 v1"),
        ("apply-config", "configrevision", events[-1].object_repr),
    ]
    assert events[-1].after["update"] == 2
    assert {e.actor_name for e in events} == {"ci"}


def test_the_export_validates_against_the_published_schema(gateway):
    document = yaml.safe_load(export_text(secret_hashes=True))
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**document, "surprise": 1}, json_schema())


def test_the_published_schema_is_the_one_the_reader_checks_with():
    assert SCHEMA_FILE.read_text() == json_schema_text(), (
        "docs/gatekeep-config.schema.json is stale: "
        "manage.py gatekeep_config schema > docs/gatekeep-config.schema.json"
    )


def test_the_readme_sample_file_plans_cleanly(db, monkeypatch):
    monkeypatch.setenv("FILES_CLIENT_SECRET", "a-long-enough-client-secret")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Configuration as code", 1)[1]
    sample = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    plan = diff(sample, api_names=None, local=True)
    assert [(c.action, c.where) for c in plan.changes] == [
        ("create", "authorization_servers[dev-idp]"),
        ("create", "apis[/files/v1]"),
        ("create", "applications[Files client]"),
        ("create", "policy_chains[/files/v1]"),
        ("create", "traffic_limits[/files/v1]"),
        ("create", "application_limits[Files client on /files/v1]"),
    ]


def test_every_event_of_an_apply_says_it_came_from_a_config_apply(db):
    build_gateway(apis=1, routes=1, applications=1)
    text = export_text(secret_hashes=True)
    wipe()
    AuditEvent.objects.all().delete()
    assert apply(text).applied
    sources = set(AuditEvent.objects.values_list("source", flat=True))
    assert sources == {"config-apply"}, sources
