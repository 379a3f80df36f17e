"""An apply creates APIs and applications in bulk: the same rows, rules, audit and version
as the per-object services, at a cost per batch rather than per resource."""

from collections import Counter

import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from applications.choices import ClientType, GrantType
from applications.models import Application
from applications.services import create_application
from configfile.apply import apply
from configfile.export import export_text
from configfile.problems import ConfigInvalid
from core.models import AuditEvent
from tests.configfile.conftest import audit_count, build_gateway, version, wipe
from traffic.models import LimitPolicy

SERVER = """\
gatekeep: 1
authorization_servers:
- name: gatekeep
  kind: internal
  issuer: http://127.0.0.1:8000
  default_audience: shop
"""


def api_item(base_path: str, *, status: str = "inactive", routes: int = 2, **extra) -> str:
    lines = [
        f"- base_path: {base_path}",
        f"  name: API {base_path}",
        "  upstream_url: http://127.0.0.1:9000/x",
        f"  status: {status}",
        *(f"  {key}: {value}" for key, value in extra.items()),
        "  policy: {authorization_servers: [gatekeep], audiences: [shop]}",
    ]
    if routes:
        lines.append("  routes:")
        lines += [f"  - {{method: GET, path: /items{r}}}" for r in range(routes)]
    return "\n".join(lines) + "\n"


def rows() -> dict:
    """Everything the services write, without ids and dates."""
    trusts = IdentifyAndAuthorizePolicy.authorization_servers.through.objects
    return {
        "apis": sorted(
            Api.objects.values_list(
                "base_path", "name", "version", "upstream_url", "kind", "status",
                "connect_timeout", "read_timeout", "description",
            )
        ),
        "routes": sorted(
            Route.objects.values_list(
                "api__base_path", "method", "path", "required_scopes", "anonymous"
            )
        ),
        "policies": sorted(
            IdentifyAndAuthorizePolicy.objects.values_list(
                "api__base_path", "identity_source", "identity_name", "audiences",
                "required_scopes", "allow_anonymous", "forward_claims", "forward_authorization",
            )
        ),
        "trusts": sorted(
            trusts.values_list(
                "identifyandauthorizepolicy__api__base_path", "authorizationserver__name"
            )
        ),
        "applications": sorted(
            Application.objects.values_list(
                "name", "description", "status", "identifying_claims", "custom_claims",
                "client_type", "grant_types", "redirect_uris", "allowed_scopes",
                "oauth_client__client_id", "oauth_client__client_secret",
                "oauth_client__client_type", "oauth_client__authorization_grant_type",
                "oauth_client__redirect_uris", "oauth_client__name",
            )
        ),
        "associations": sorted(
            Application.apis.through.objects.values_list("application__name", "api__base_path")
        ),
    }  # fmt: skip


def unseen_secrets(rows: dict) -> dict:
    """A public client's secret is a random one nobody sees: not part of the comparison."""
    rows["applications"] = [
        (*row[:10], "(unseen)" if row[5] == ClientType.PUBLIC else row[10], *row[11:])
        for row in rows["applications"]
    ]
    return rows


def test_a_bulk_apply_writes_the_rows_the_services_write(db):
    build_gateway(apis=4, routes=3, applications=6)
    create_application(
        name="spa",
        client_type=ClientType.PUBLIC,
        redirect_uris=["https://spa.example.com/callback"],
        grant_types=[GrantType.AUTHORIZATION_CODE],
    )
    by_services = unseen_secrets(rows())
    text = export_text(secret_hashes=True)
    wipe()
    result = apply(text)
    assert result.applied and result.generated == []
    assert unseen_secrets(rows()) == by_services


def test_one_audit_event_per_created_resource_and_one_for_the_apply(db):
    text = (
        SERVER
        + "apis:\n"
        + api_item("/a/v1", status="active", routes=3)
        + api_item("/b/v1", routes=2)
        + "applications:\n- {name: one, apis: [/a/v1]}\n- {name: two, apis: [/a/v1, /b/v1]}\n"
    )
    apply(text)
    events = Counter(AuditEvent.objects.values_list("object_type", "action"))
    assert events == {
        ("authorizationserver", "create"): 1,
        ("authorizationserver", "create-signing-keys"): 1,
        ("api", "create"): 2,
        ("route", "create"): 5,
        ("identifyandauthorizepolicy", "create"): 2,
        ("api", "activate"): 1,
        ("application", "create"): 2,
        ("configrevision", "apply-config"): 1,
    }
    created = AuditEvent.objects.get(object_type="application", object_repr="two")
    assert created.after["apis"] == sorted(
        Api.objects.filter(base_path__in=["/a/v1", "/b/v1"]).values_list("pk", flat=True)
    )
    assert created.source == "config-apply"


def test_a_bulk_apply_moves_the_version_once(db, committed):
    text = SERVER + "apis:\n" + "".join(api_item(f"/s{n}/v1", status="active") for n in range(5))
    before = version()
    with committed():
        apply(text)
    assert int(version().split(".")[0]) == int((before or "0").split(".")[0]) + 1


def test_broken_rules_are_reported_where_they_are_and_nothing_is_created(db):
    text = (
        SERVER
        + "apis:\n"
        + api_item("/slow/v1", read_timeout=900)
        + api_item("/fine/v1")
        + "applications:\n"
        "- {name: spa, client_type: public, grant_types: [client_credentials]}\n"
        "- {name: fine}\n"
    )
    events = audit_count()
    with pytest.raises(ConfigInvalid) as raised:
        apply(text)
    problems = {(problem.where, problem.message) for problem in raised.value.problems}
    assert problems == {
        ("apis[/slow/v1].read_timeout", "Must be between 0 and 600 seconds."),
        (
            "applications[spa].grant_types",
            "A public client has no secret, so it cannot use client_credentials.",
        ),
    }
    assert not Api.objects.exists() and not Application.objects.exists()
    assert audit_count() == events


def test_base_paths_that_overlap_within_the_file_or_with_the_gateway_are_refused(db):
    build_gateway(apis=1, routes=1, applications=0)
    text = (
        "gatekeep: 1\napis:\n"
        + api_item("/shop/v1")
        + api_item("/shop/v1/admin")
        + api_item("/shop0/v1/extra")
    )
    with pytest.raises(ConfigInvalid) as raised:
        apply(text)
    problems = sorted((p.where, p.message) for p in raised.value.problems)
    assert [where for where, _ in problems] == [
        "apis[/shop/v1/admin].base_path",
        "apis[/shop0/v1/extra].base_path",
    ]
    assert "Overlaps the base path /shop/v1 " in problems[0][1]
    assert "Overlaps the base path /shop0/v1 " in problems[1][1]
    assert Api.objects.count() == 1


def test_the_activation_checks_run_on_what_the_whole_file_made(db):
    text = (
        SERVER
        + "apis:\n"
        + api_item("/empty/v1", status="active", routes=0)
        + api_item("/down/v1", status="active")
        + "policy_chains:\n- api: /down/v1\n"
        "  upstream_targets:\n  - {url: 'http://10.0.0.1:8080', enabled: false}\n"
    )
    with pytest.raises(ConfigInvalid) as raised:
        apply(text)
    assert [(p.where, p.message) for p in raised.value.problems] == [
        (
            "apis[/down/v1].status",
            "Cannot be active: Every upstream target is disabled: enable one, or delete them all.",
        ),
        ("apis[/empty/v1].status", "Cannot be active: The API has no routes."),
    ]
    assert not Api.objects.exists()


def test_names_that_collide_once_normalised_are_refused(db):
    text = (
        SERVER
        + "apis:\n"
        + api_item("/twin/v1")
        + api_item("twin/v1/")
        + "applications:\n- {name: Café}\n- {name: 'CAFÉ '}\n"
    )
    with pytest.raises(ConfigInvalid) as raised:
        apply(text)
    assert sorted(p.where for p in raised.value.problems) == [
        "apis[twin/v1/]",
        "applications[CAFÉ ]",
    ]
    assert not Api.objects.exists()


def test_a_client_id_another_application_holds_is_a_problem_not_a_crash(db):
    existing, _ = create_application(None, name="Existing")  # not in the file: no prune
    text = (
        SERVER + f"applications:\n- {{name: newcomer, client_id: {existing.client_id}}}\n"
        "- {name: other, client_id: other-client}\n"
    )
    with pytest.raises(ConfigInvalid) as raised:
        apply(text)
    [problem] = raised.value.problems
    assert problem.where.startswith("applications[newcomer]")
    assert "already in use" in problem.message
    assert not Application.objects.filter(name__in=["newcomer", "other"]).exists()


def test_secrets_come_from_their_hashes_or_are_generated_once(db):
    stored = make_password("the-secret")
    text = (
        SERVER + f"applications:\n- {{name: kept, client_secret: {{hash: '{stored}'}}}}\n"
        "- {name: fresh}\n- {name: spa, client_type: public}\n"
    )
    result = apply(text)
    kept = Application.objects.select_related("oauth_client").get(name="kept")
    assert kept.oauth_client.client_secret == stored  # not hashed again
    [(name, client_id, plain)] = result.generated
    fresh = Application.objects.select_related("oauth_client").get(name="fresh")
    assert (name, client_id) == ("fresh", fresh.client_id)
    assert check_password(plain, fresh.oauth_client.client_secret)


def test_applying_the_applied_file_again_changes_nothing(db, committed):
    build_gateway(apis=3, routes=2, applications=4)
    text = export_text(secret_hashes=True)
    wipe()
    with committed():
        apply(text)
    after, events = version(), audit_count()
    with committed():
        again = apply(text)
    assert again.applied is False and again.plan.empty
    assert (version(), audit_count()) == (after, events)


def test_a_bulk_apply_costs_queries_per_batch_not_per_resource(db):
    def queries(size: int) -> int:
        text = (
            SERVER
            + "apis:\n"
            + "".join(api_item(f"/q{n}/v1", routes=5) for n in range(size))
            + "applications:\n"
            + "".join(f"- {{name: app{n}, apis: [/q{n}/v1]}}\n" for n in range(size))
        )
        wipe()
        with CaptureQueriesContext(connection) as captured:
            apply(text)
        assert Route.objects.count() == 5 * size
        return len(captured)

    # Per resource, the services took about a dozen queries each (10 resources per API).
    assert queries(40) - queries(20) < 10


def test_new_traffic_limits_are_created_together_with_their_rules(db):
    text = (
        SERVER
        + "apis:\n"
        + api_item("/a/v1")
        + api_item("/b/v1")
        + "traffic_limits:\n- {api: /a/v1, rate: 10, period: minute}\n- {api: /b/v1, burst: 5}\n"
    )
    with pytest.raises(ConfigInvalid) as raised:
        apply(text)
    assert [(p.where, p.message) for p in raised.value.problems] == [
        (
            "traffic_limits[/b/v1].burst",
            "A burst needs a rate: set the rate too, or leave the burst empty.",
        )
    ]
    apply(text.replace("{api: /b/v1, burst: 5}", "{api: /b/v1, rate: 5, burst: 5}"))
    assert sorted(LimitPolicy.objects.values_list("api__base_path", "rate")) == [
        ("/a/v1", 10),
        ("/b/v1", 5),
    ]
    assert AuditEvent.objects.filter(object_type="limitpolicy", action="create").count() == 2
