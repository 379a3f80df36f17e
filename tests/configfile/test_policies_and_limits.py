"""Policy chains, traffic limits, application limits and application address lists in the
file: round trip, idempotence, selective scope and --prune."""

import json
from pathlib import Path

import jsonschema
import yaml

from apis.models import Api
from configfile.apply import apply, diff
from configfile.export import export_text
from core.models import AuditEvent
from policies.models import CorsPolicy, Transformation, UpstreamTarget
from tests.configfile.chains import build_chains, counts
from tests.configfile.conftest import audit_count, version, wipe
from traffic.models import ApplicationLimit, LimitPolicy

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "gatekeep-config.schema.json"

SHOP0_CHAIN = """\
policy_chains:
- api: /shop0/v1
  cors:
    allowed_origins:
    - https://app.example.com
    - "https://*.partner.example"
    allowed_methods:
    - GET
    - POST
    allowed_headers:
    - Authorization
    - Content-Type
    exposed_headers:
    - X-Total-Count
    allow_credentials: true
    max_age_seconds: 300
  client_addresses:
    allow:
    - 10.0.0.0/8
    - 2001:db8::/32
    deny:
    - 10.66.0.0/16
  request_limits:
    max_body_bytes: 1048576
    max_header_count: 50
    allowed_content_types:
    - application/json
    - "text/*"
  transformations:
  - target: request_header
    operation: set
    name: X-Tenant
    source: claim
    value: tenant
  - route: GET /items0/{id}
    target: request_header
    operation: set
    name: X-Item
    source: path_param
    value: id
  - target: query_param
    operation: set
    name: api-version
    value: "2"
  - target: response_header
    operation: remove
    name: X-Powered-By
  - target: request_header
    operation: rename
    name: X-Old
    new_name: X-New
  - target: request_header
    operation: add
    name: X-App
    source: application
    value: name
  upstream_targets:
  - url: http://10.0.0.11:8080
    weight: 2
    enabled: true
  - url: http://10.0.0.12:8080
    weight: 1
    enabled: false
  load_balancing:
    algorithm: least_connections
    health_check_path: /healthz
    health_check_interval: 2.5
    health_check_timeout: 2.0
    healthy_threshold: 3
    unhealthy_threshold: 2
    passive_failures: 0
    ejection_seconds: 30.0
    retry: false
"""

LIMITS = """\
traffic_limits:
- api: /shop0/v1
  rate: 100
  period: minute
  burst: 20
  quota_per_day: 10000
  quota_per_month: 200000
  anonymous_rate: 5
  anonymous_period: second
  when_redis_down: closed
- api: /shop1/v1
  quota_per_day: 5
  when_redis_down: open
application_limits:
- application: client-0001
  api: /shop1/v1
  rate: 1000
  period: hour
- application: client-0002
  quota_per_month: 50
application_client_addresses:
- application: client-0001
  allow:
  - 198.51.100.0/24
  deny: []
"""


def test_every_policy_and_limit_is_exported_readably(db):
    build_chains()
    text = export_text()
    assert SHOP0_CHAIN in text
    assert text.endswith(LIMITS)
    document = yaml.safe_load(text)
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(document)


def test_export_wipe_apply_export_gives_the_same_bytes_with_every_policy(db):
    build_chains()
    first, rows = export_text(secret_hashes=True), counts()
    wipe()
    assert set(counts().values()) == {0}
    assert apply(first).applied
    assert counts() == rows
    assert export_text(secret_hashes=True) == first
    # The rules run in the file's order; positions are renumbered, not copied.
    shop0 = Transformation.objects.filter(api__base_path="/shop0/v1").order_by("position")
    assert [rule.position for rule in shop0] == [0, 1, 2, 3, 4, 5]


def test_applying_the_same_file_twice_changes_nothing_the_second_time(db, committed):
    with committed():
        build_chains()
    assert diff(export_text()).empty
    text = export_text().replace("rate: 100\n", "rate: 150\n").replace("weight: 2\n", "weight: 3\n")
    before = version()
    with committed():
        result = apply(text)
    assert [(c.where, c.fields) for c in result.plan.changes] == [
        (
            "policy_chains[/shop0/v1]",
            [("upstream_targets[http://10.0.0.11:8080].weight", 2, 3)],
        ),
        ("traffic_limits[/shop0/v1]", [("rate", 100, 150)]),
    ]
    assert int(version().split(".")[0]) == int(before.split(".")[0]) + 1
    after, events = version(), audit_count()
    with committed():
        second = apply(text)
    assert second.applied is False
    assert (version(), audit_count()) == (after, events)
    assert LimitPolicy.objects.get(api__base_path="/shop0/v1").rate == 150
    assert UpstreamTarget.objects.get(url="http://10.0.0.11:8080").weight == 3


def test_one_event_per_changed_policy_plus_one_for_the_apply(db):
    build_chains()
    text = export_text().replace(
        "name: X-Powered-By\n",
        "name: X-Powered-By\n  - target: "
        "response_header\n    operation: remove\n    name: X-Debug\n",
    )
    first_event = AuditEvent.objects.order_by("-id").first().id
    apply(text, actor="ci")
    events = AuditEvent.objects.filter(id__gt=first_event).order_by("id")
    # The new rule is fifth: it and the two after it are written, the first four are not.
    assert [(e.action, e.object_type) for e in events] == [
        ("update", "transformation"),
        ("update", "transformation"),
        ("create", "transformation"),
        ("apply-config", "configrevision"),
    ]
    assert diff(text).empty


def test_what_an_item_leaves_out_the_api_does_not_have(db):
    build_chains()
    text = export_text()
    head, rest = text.split("  cors:\n", 1)
    text = head + rest[rest.index("  client_addresses:\n") :]
    plan = diff(text)
    assert [(c.where, [f[0] for f in c.fields]) for c in plan.changes] == [
        ("policy_chains[/shop0/v1]", ["cors"])
    ]
    assert "    cors: removed" in plan.render()
    apply(text)
    assert not CorsPolicy.objects.exists()
    assert diff(text).empty


def test_an_item_with_only_the_api_clears_its_chain_and_then_changes_nothing(db):
    build_chains()
    text = export_text()
    head, rest = text.split("- api: /shop1/v1\n  transformations:\n", 1)
    text = head + "- api: /shop1/v1\n" + rest[rest.index("traffic_limits:") :]
    apply(text)
    assert not Transformation.objects.filter(api__base_path="/shop1/v1").exists()
    assert diff(text).empty
    assert "- api: /shop1/v1\n  transformations" not in export_text()


def test_without_prune_what_the_file_leaves_out_is_kept_and_listed(db):
    build_chains()
    text = export_text()
    text = text.replace(
        "- api: /shop1/v1\n  transformations:\n  - target: response_header\n"
        "    operation: remove\n    name: Server-Timing\n",
        "",
    )
    text = text.replace("- api: /shop1/v1\n  quota_per_day: 5\n  when_redis_down: open\n", "")
    text = text.replace("- application: client-0002\n  quota_per_month: 50\n", "")
    plan = diff(text)
    assert plan.empty
    assert plan.kept == [
        "policy_chains[/shop1/v1]",
        "traffic_limits[/shop1/v1]",
        "application_limits[client-0002 on every API]",
    ]
    rows = counts()
    apply(text)
    assert counts() == rows

    pruned = apply(text, prune=True)
    assert [c.where for c in pruned.plan.changes] == plan.kept
    assert not Transformation.objects.filter(api__base_path="/shop1/v1").exists()
    assert not LimitPolicy.objects.filter(api__base_path="/shop1/v1").exists()
    assert ApplicationLimit.objects.count() == 1
    assert export_text() == text


def test_a_file_without_the_new_kinds_does_not_manage_them_even_with_prune(db):
    build_chains()
    rows = counts()
    text = export_text().split("policy_chains:\n", 1)[0]
    assert apply(text, prune=True).plan.empty
    assert counts() == rows


def test_a_selective_export_holds_the_api_chain_and_limits_but_no_applications(db):
    build_chains()
    text = export_text(["/shop1/v1"])
    assert "policy_chains:\n- api: /shop1/v1\n" in text
    assert "traffic_limits:\n- api: /shop1/v1\n" in text
    assert "/shop0/v1" not in text
    assert "application" not in text.split("policy_chains:", 1)[1]
    edited = text.replace("name: Server-Timing", "name: Server-Timing-Two")
    plan = diff(edited, prune=True)
    assert [c.where for c in plan.changes] == ["policy_chains[/shop1/v1]"]
    apply(edited, prune=True)
    assert counts()["CorsPolicy"] == 1 and counts()["ApplicationLimit"] == 2


def test_pruning_an_api_takes_its_chain_and_limits_first_each_audited(db):
    build_chains()
    text = export_text()
    kept = yaml.safe_load(text)
    for key in ("apis", "policy_chains", "traffic_limits"):
        kept[key] = [item for item in kept[key] if "/shop1/v1" not in item.values()]
    for app in kept["applications"]:
        app["apis"] = [path for path in app["apis"] if path != "/shop1/v1"]
    kept["application_limits"] = [
        limit for limit in kept["application_limits"] if limit.get("api") != "/shop1/v1"
    ]
    first_event = AuditEvent.objects.order_by("-id").first().id
    apply(json.dumps(kept), prune=True)
    assert not Api.objects.filter(base_path="/shop1/v1").exists()
    deleted = AuditEvent.objects.filter(id__gt=first_event, action="delete")
    assert sorted(deleted.values_list("object_type", flat=True)) == [
        "api",
        "applicationlimit",
        "limitpolicy",
        "transformation",
    ]


def test_a_limit_left_out_is_removed_from_the_item(db):
    build_chains()
    text = export_text().replace("  rate: 100\n  period: minute\n  burst: 20\n", "", 1)
    plan = diff(text)
    assert [(c.where, c.fields) for c in plan.changes] == [
        (
            "traffic_limits[/shop0/v1]",
            [("rate", 100, None), ("period", "minute", None), ("burst", 20, None)],
        )
    ]
    apply(text)
    limits = LimitPolicy.objects.get(api__base_path="/shop0/v1")
    assert (limits.rate, limits.burst, limits.quota_per_day) == (None, None, 10_000)
    assert diff(text).empty


def test_over_rest_a_policy_problem_is_a_field_error_at_its_place(db, staff_client):
    build_chains()
    text = export_text().replace("- 198.51.100.0/24\n", "- 198.51.100.0/24\n  - 10.0.0.0/99\n")
    response = staff_client.post("/api/v1/config/apply/", {"document": text}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "application_client_addresses[client-0001].allow": [
            "'10.0.0.0/99' is not an IPv4/IPv6 address or CIDR network."
        ]
    }
    text = text.replace("  - 10.0.0.0/99\n", "").replace("  deny: []\n", "  deny: [192.0.2.7]\n")
    response = staff_client.post("/api/v1/config/apply/", {"document": text}, format="json")
    assert response.status_code == 200
    assert response.json()["changes"] == [
        {
            "kind": "application_client_addresses",
            "name": "client-0001",
            "action": "update",
            "fields": [{"field": "deny", "before": [], "after": ["192.0.2.7"]}],
        }
    ]


def test_the_documented_samples_apply_cleanly(db, monkeypatch):
    monkeypatch.setenv("FILES_CLIENT_SECRET", "a-long-enough-client-secret")
    root = Path(__file__).resolve().parents[2]

    def sample(path: str, section: str) -> str:
        text = (root / path).read_text().split(section, 1)[1]
        return text.split("```yaml\n", 1)[1].split("```", 1)[0]

    # Active needs the issuer's keys, which dev-idp (not running here) would serve.
    readme = sample("README.md", "## Configuration as code").replace(
        "status: active", "status: inactive"
    )
    assert "policy_chains:" in readme
    apply(readme)
    assert diff(readme).empty
    chains = sample("docs/operations.md", "**Policy chains and traffic limits.**")
    text = readme.split("policy_chains:", 1)[0] + chains
    apply(text)
    assert diff(text).empty
    assert UpstreamTarget.objects.filter(api__base_path="/files/v1").count() == 2
