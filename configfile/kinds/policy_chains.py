"""APIs' policy chains in a configuration file, one item per API, named by its base path.

An item lists everything of the API's chain (docs/policies.md): CORS, the API's client
address lists, request limits, transformations (in the order they run), upstream targets
and load balancing. Like an API's routes, what an item leaves out the API does not have:
an item with only `api` clears the chain. An API the file does not list keeps its chain,
unless `--prune`.

The chain is its own kind rather than keys of the API's item, so a file written before
it existed (or one that leaves `policy_chains` out) does not manage it: an API's CORS
or targets are never removed because its item does not mention them.
"""

from apis.choices import ApiStatus
from apis.models import Api, Route
from configfile.kinds.base import Context, PerApiKind, Scope, register
from configfile.kinds.chain_parts import (
    ADDRESSES_SPEC,
    CHAIN_KEYS,
    CLIENT_ADDRESSES,
    CORS,
    CORS_SPEC,
    LOAD_BALANCING,
    LOAD_BALANCING_SPEC,
    PARTS,
    REQUEST_LIMITS,
    REQUEST_LIMITS_SPEC,
    RULE_KEYS,
    TARGET_KEYS,
    TARGET_SPEC,
    TRANSFORMATION_SPEC,
    desired_rules,
    desired_targets,
    rule_item,
    target_item,
)
from configfile.kinds.references import api_instance, api_path, check_api, final_routes, saved
from configfile.spec import Field, ListOf, Obj
from policies import services
from policies.choices import ValueSource
from policies.models import Transformation, UpstreamTarget

SPEC = Obj(
    (
        Field("api", "string", "Base path of the API.", True, max_length=300),
        Field(
            CORS.key,
            CORS_SPEC,
            "Left out: no CORS (browsers' cross-origin calls fail).",
            nullable=True,
        ),
        Field(CLIENT_ADDRESSES.key, ADDRESSES_SPEC, "Left out: any address.", nullable=True),
        Field(REQUEST_LIMITS.key, REQUEST_LIMITS_SPEC, "Left out: no limits.", nullable=True),
        Field("transformations", ListOf(TRANSFORMATION_SPEC, max_items=1000)),
        Field("upstream_targets", ListOf(TARGET_SPEC, max_items=1000)),
        Field(
            LOAD_BALANCING.key,
            LOAD_BALANCING_SPEC,
            "Left out: round robin, the defaults.",
            nullable=True,
        ),
    ),
    "The policy chain of one API (its access policy is the API's `policy`).",
    name_of=lambda item: item["api"],
)

PART_BY_KEY = {part.key: part for part in PARTS}
EMPTY = "policy_chains: empty items"


@register
class PolicyChains(PerApiKind):
    key = "policy_chains"
    order = 40
    spec = SPEC

    def current(self, scope: Scope) -> dict[str, dict]:
        found: dict[str, dict] = {}

        def rows(model, order=()):
            query = model.objects.filter(api__isnull=False).select_related("api")
            if not scope.everything:
                query = query.filter(api__base_path__in=scope.apis)
            return query.order_by(*order) if order else query

        for part in PARTS:
            for row in rows(part.model):
                found.setdefault(row.api.base_path, {})[part.key] = part.item(row)
        for row in rows(Transformation, ("api", "position", "id")).select_related("route"):
            chain = found.setdefault(row.api.base_path, {})
            chain.setdefault("transformations", []).append(rule_item(row))
        for row in rows(UpstreamTarget, ("api", "url")):
            chain = found.setdefault(row.api.base_path, {})
            chain.setdefault("upstream_targets", []).append(target_item(row))
        return {path: _ordered(path, chain) for path, chain in found.items()}

    def desired(self, item: dict, where: str, context: Context) -> dict | None:
        base_path = api_path(item["api"], f"{where}.api", context)
        if base_path is None:
            return None
        chain = {}
        for part in PARTS:
            if item.get(part.key) is not None:
                chain[part.key] = part.desired(item[part.key])
        rules = desired_rules(item.get("transformations", []), where, context)
        if rules:
            chain["transformations"] = rules
        targets = desired_targets(item.get("upstream_targets", []), where, context)
        if targets:
            chain["upstream_targets"] = targets
        if not chain and base_path not in self._chained(context):
            # Nothing to clear: the same as leaving the item out (which is what an export
            # writes for an API without a chain), so applying it twice changes nothing.
            context.memo.setdefault(EMPTY, []).append((where, base_path))
            return None
        return _ordered(base_path, chain)

    def _chained(self, context: Context) -> set[str]:
        """Base paths of the APIs that have any policy of the chain (once per run)."""
        if "chained-apis" not in context.memo:
            context.memo["chained-apis"] = set(self.current(Scope()))
        return context.memo["chained-apis"]

    def check(self, desired: dict[str, dict], context: Context) -> None:
        for where, base_path in context.memo.get(EMPTY, []):
            if self.in_scope(base_path, {}, context.scope, context):
                check_api(base_path, f"{where}.api", context)
        for name, item in desired.items():
            where = self.where(name)
            if not check_api(name, f"{where}.api", context):
                continue
            rules = item.get("transformations", [])
            if not any(rule.get("route") for rule in rules):
                continue
            routes = final_routes(name, context)
            for index, rule in enumerate(rules):
                if rule.get("route") and rule["route"] not in routes:
                    context.problem(
                        f"{where}.transformations[#{index + 1}].route",
                        f"The API {name} has no route {rule['route']} (in the file or the "
                        "gateway).",
                    )

    def changed_fields(self, old: dict, new: dict, context: Context) -> list[tuple]:
        changed = []
        for key in CHAIN_KEYS:
            before, after = old.get(key), new.get(key)
            if before == after:
                continue
            if key == "transformations":
                before, after = before or [], after or []
                for index in range(max(len(before), len(after))):
                    rule_before = before[index] if index < len(before) else None
                    rule_after = after[index] if index < len(after) else None
                    changed += _changes(f"{key}[#{index + 1}]", rule_before, rule_after, RULE_KEYS)
            elif key == "upstream_targets":
                by_url_before = {t["url"]: t for t in before or []}
                by_url_after = {t["url"]: t for t in after or []}
                for url in sorted(by_url_before.keys() | by_url_after.keys()):
                    target_before, target_after = by_url_before.get(url), by_url_after.get(url)
                    changed += _changes(f"{key}[{url}]", target_before, target_after, TARGET_KEYS)
            else:
                changed += _changes(key, before, after, PART_BY_KEY[key].fields)
        return changed

    # --- applying -----------------------------------------------------------------

    def create(self, name: str, item: dict, context: Context) -> None:
        self._apply(name, {}, item, context)

    def update(self, name: str, old: dict, new: dict, context: Context) -> None:
        self._apply(name, old, new, context)

    def delete(self, name: str, old: dict, context: Context) -> None:
        self._apply(name, old, {}, context)

    def _apply(self, name: str, old: dict, new: dict, context: Context) -> None:
        api = api_instance(name, context)
        if api is None:
            return  # the API itself failed to save, and said why
        where = self.where(name)
        for key in CHAIN_KEYS:
            if old.get(key) == new.get(key):
                continue
            if key == "transformations":
                self._rules(api, new.get(key, []), where, context)
            elif key == "upstream_targets":
                self._targets(api, new.get(key, []), where, context)
            else:
                self._part(api, PART_BY_KEY[key], new.get(key), where, context)
        # The chain is part of what makes an active API servable (policies/services.py):
        # the activation checks run again on the chain as the file leaves it.
        if Api.objects.filter(pk=api.pk, status=ApiStatus.ACTIVE).exists():
            for problem in services.chain_problems(api):
                context.problem(where, f"Cannot be active: {problem}")

    def _part(self, api: Api, part, values: dict | None, where: str, context: Context) -> None:
        stored = part.model.objects.filter(api=api).first()
        if values is None:
            if stored is not None:
                services.delete_policy(stored, context.actor)
            return
        instance = stored or part.model(api=api)
        for field in part.fields:
            setattr(instance, field, values.get(field))
        saved(services.save_policy, instance, f"{where}.{part.key}", context)

    def _rules(self, api: Api, rules: list[dict], where: str, context: Context) -> None:
        """The n-th rule of the file rewrites the n-th stored one (which keeps its place in
        the order), so a rule that did not change is not written; rules beyond the stored
        ones come after them."""
        stored = Transformation.objects.filter(api=api).select_related("route")
        stored = list(stored.order_by("position", "id"))
        routes = {f"{r.method} {r.path}": r for r in Route.objects.filter(api=api)}
        for row in stored[len(rules) :]:
            services.delete_policy(row, context.actor)
        next_position = stored[-1].position + 1 if stored else 0
        for index, rule in enumerate(rules):
            at = f"{where}.transformations[#{index + 1}]"
            if index < len(stored):
                row = stored[index]
                if rule_item(row) == rule:
                    continue
            else:
                row = Transformation(api=api, position=next_position + index - len(stored))
            route = routes.get(rule["route"]) if rule.get("route") else None
            if rule.get("route") and route is None:  # its route failed to save, and said why
                continue
            row.route = route
            row.target, row.operation, row.name = rule["target"], rule["operation"], rule["name"]
            row.new_name = rule.get("new_name", "")
            row.source = rule.get("source", ValueSource.CONSTANT)
            row.value = rule.get("value", "")
            saved(services.save_policy, row, at, context)

    def _targets(self, api: Api, targets: list[dict], where: str, context: Context) -> None:
        stored = {row.url: row for row in UpstreamTarget.objects.filter(api=api)}
        wanted = {target["url"]: target for target in targets}
        for url, row in stored.items():
            if url not in wanted:
                services.delete_policy(row, context.actor)
        for url, target in wanted.items():
            row = stored.get(url) or UpstreamTarget(api=api, url=url)
            if row.pk is not None and target_item(row) == target:
                continue
            row.weight, row.enabled = target["weight"], target["enabled"]
            saved(services.save_policy, row, f"{where}.upstream_targets[{url}]", context)


def _changes(at: str, before: dict | None, after: dict | None, keys) -> list[tuple]:
    """One change for a policy added or removed, one per field for a policy changed."""
    if before is None or after is None:
        return [(at, before, after)] if before != after else []
    return [
        (f"{at}.{name}", before.get(name), after.get(name))
        for name in keys
        if before.get(name) != after.get(name)
    ]


def _ordered(base_path: str, chain: dict) -> dict:
    return {"api": base_path, **{key: chain[key] for key in CHAIN_KEYS if key in chain}}
