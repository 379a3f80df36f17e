"""The shape of an API's policy chain in a configuration file, and its stored rows as file
items (docs/policies.md has what each policy does; policies/models.py holds the rules).

An item is in one canonical form, for export and for comparing with the file alike: a
policy the API does not have is left out, a null limit is left out, and a
transformation leaves out what it does not use (no route: every call; `source`:
constant; an empty `new_name` or `value`). Upstream targets come sorted by URL;
transformations in the order they run.
"""

from dataclasses import dataclass

from apis.choices import CALL_METHODS
from configfile.kinds.base import Context, defaults_of
from configfile.kinds.references import route_name, without_nulls
from configfile.spec import Field, Obj
from policies.choices import BalancingAlgorithm, TransformOperation, TransformTarget, ValueSource
from policies.models import (
    ClientAddressPolicy,
    CorsPolicy,
    LoadBalancing,
    RequestLimits,
    Transformation,
    UpstreamTarget,
)


@dataclass(frozen=True)
class Part:
    """A policy an API has at most one of."""

    key: str
    model: type
    fields: tuple[str, ...]
    floats: tuple[str, ...] = ()

    def item(self, row) -> dict:
        return without_nulls({name: getattr(row, name) for name in self.fields})

    def desired(self, value: dict) -> dict:
        result = defaults_of(self.model, self.fields)
        result.update({name: value[name] for name in self.fields if name in value})
        for name in self.floats:
            if result[name] is not None:
                result[name] = float(result[name])
        return without_nulls(result)


CORS = Part(
    "cors",
    CorsPolicy,
    (
        "allowed_origins",
        "allowed_methods",
        "allowed_headers",
        "exposed_headers",
        "allow_credentials",
        "max_age_seconds",
    ),
)
CLIENT_ADDRESSES = Part("client_addresses", ClientAddressPolicy, ("allow", "deny"))
REQUEST_LIMITS = Part(
    "request_limits",
    RequestLimits,
    ("max_body_bytes", "max_header_count", "max_header_bytes", "allowed_content_types"),
)
LOAD_BALANCING = Part(
    "load_balancing",
    LoadBalancing,
    (
        "algorithm",
        "health_check_path",
        "health_check_interval",
        "health_check_timeout",
        "healthy_threshold",
        "unhealthy_threshold",
        "passive_failures",
        "ejection_seconds",
        "retry",
    ),
    floats=("health_check_interval", "health_check_timeout", "ejection_seconds"),
)
PARTS = (CORS, CLIENT_ADDRESSES, REQUEST_LIMITS, LOAD_BALANCING)
# The keys of an item after `api`, in the order they are written.
CHAIN_KEYS = (
    "cors",
    "client_addresses",
    "request_limits",
    "transformations",
    "upstream_targets",
    "load_balancing",
)

CORS_SPEC = Obj(
    (
        Field(
            "allowed_origins",
            "strings",
            "Exact origins (https://app.example.com), subdomain patterns (https://*.example.com) "
            'or "*" alone; never "null".',
            True,
        ),
        Field("allowed_methods", "strings", f"Any of {', '.join(CALL_METHODS)}."),
        Field("allowed_headers", "strings", "Request headers a page may send."),
        Field("exposed_headers", "strings", "Response headers a page may read."),
        Field("allow_credentials", "boolean", 'Cookies allowed; not with "*".'),
        Field("max_age_seconds", "integer", "Preflight cache time, at most 86400."),
    ),
    "Which browser origins may call the API, with which methods and headers.",
)
ADDRESSES_SPEC = Obj(
    (
        Field("allow", "strings", "Addresses or CIDR networks; empty admits every address."),
        Field("deny", "strings", "Addresses or CIDR networks refused (deny wins)."),
    ),
    "The client addresses calls to the API may come from.",
)
REQUEST_LIMITS_SPEC = Obj(
    (
        Field("max_body_bytes", "integer", "Largest request body (413).", nullable=True),
        Field("max_header_count", "integer", "Most header fields (431).", nullable=True),
        Field(
            "max_header_bytes", "integer", "Largest sum of names and values (431).", nullable=True
        ),
        Field("allowed_content_types", "strings", "Media types a body may have (415): text/*."),
    ),
    "What a request must meet before the upstream is called.",
)
TRANSFORMATION_SPEC = Obj(
    (
        Field("route", "string", "Only this route (GET /pets/{id}); left out: every call."),
        Field("target", "string", required=True, enum=tuple(TransformTarget.values)),
        Field("operation", "string", required=True, enum=tuple(TransformOperation.values)),
        Field("name", "string", "Header or query parameter name.", True, max_length=100),
        Field("new_name", "string", "For rename.", max_length=100),
        Field(
            "source",
            "string",
            "Where an add or set takes its value; left out: constant.",
            enum=tuple(ValueSource.values),
        ),
        Field(
            "value",
            "string",
            'The constant (printable ASCII), claim, path parameter, or "name"/"id" of the '
            "application.",
            max_length=1024,
        ),
    ),
    "One change to requests or responses; the list runs in order.",
)
TARGET_SPEC = Obj(
    (
        Field("url", "string", "An origin: scheme://host:port.", True, max_length=300),
        Field("weight", "integer", "1-100: a share of the calls."),
        Field("enabled", "boolean"),
    ),
    "One backend instance of the API; the API's upstream URL still gives the path.",
    name_of=lambda item: item["url"],
)
LOAD_BALANCING_SPEC = Obj(
    (
        Field("algorithm", "string", enum=tuple(BalancingAlgorithm.values)),
        Field(
            "health_check_path", "string", "e.g. /healthz; empty: no active checks.", max_length=300
        ),
        Field("health_check_interval", "number", "Seconds between checks."),
        Field("health_check_timeout", "number"),
        Field("healthy_threshold", "integer", "Good checks that bring a target back."),
        Field("unhealthy_threshold", "integer", "Failed checks that take a target out."),
        Field("passive_failures", "integer", "Failures in a row that eject a target; 0: never."),
        Field("ejection_seconds", "number", "Without active checks: when to try it again."),
        Field("retry", "boolean", "Retry an idempotent call once on another target."),
    ),
    "How calls are spread over the upstream targets, and how unhealthy ones are found.",
)


# The keys of a transformation and of a target, in the order they are written.
RULE_KEYS = ("route", "target", "operation", "name", "new_name", "source", "value")
TARGET_KEYS = ("url", "weight", "enabled")


def rule_item(row: Transformation) -> dict:
    rule = {}
    if row.route_id is not None:
        rule["route"] = f"{row.route.method} {row.route.path}"
    rule.update(target=row.target, operation=row.operation, name=row.name)
    if row.new_name:
        rule["new_name"] = row.new_name
    # A blank source (only meaningful for rename and remove, which use none) reads as the default.
    if row.source not in ("", ValueSource.CONSTANT):
        rule["source"] = row.source
    if row.value:
        rule["value"] = row.value
    return rule


def desired_rules(rules: list, where: str, context: Context) -> list[dict]:
    result = []
    for index, raw in enumerate(rules):
        rule = {}
        if raw.get("route") is not None:
            at = f"{where}.transformations[#{index + 1}].route"
            rule["route"] = route_name(raw["route"], at, context)
        rule.update(target=raw["target"], operation=raw["operation"], name=raw["name"])
        if raw.get("new_name"):
            rule["new_name"] = raw["new_name"]
        if raw.get("source", ValueSource.CONSTANT) != ValueSource.CONSTANT:
            rule["source"] = raw["source"]
        if raw.get("value"):
            rule["value"] = raw["value"]
        result.append(rule)
    return result


def target_item(row: UpstreamTarget) -> dict:
    return {"url": row.url, "weight": row.weight, "enabled": row.enabled}


def desired_targets(targets: list, where: str, context: Context) -> list[dict]:
    defaults = defaults_of(UpstreamTarget, ("weight", "enabled"))
    result: dict[str, dict] = {}
    for raw in targets:
        # UpstreamTarget.clean() stores an origin without its trailing slash.
        url = raw["url"].rstrip("/")
        if url in result:
            context.problem(
                f"{where}.upstream_targets[{raw['url']}]",
                f"The target {url} is listed twice; list each target once.",
            )
            continue
        result[url] = {"url": url, **{key: raw.get(key, defaults[key]) for key in defaults}}
    return [result[url] for url in sorted(result)]
