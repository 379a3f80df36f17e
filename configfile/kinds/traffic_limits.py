"""An API's traffic limits in a configuration file, named by the API's base path.

One item per API with limits (traffic/models.py LimitPolicy): the default rate and
quotas of each application, the rate of anonymous calls per client address, and what
calls get while Redis is down. A rate's period is a word (second, minute, hour). A null
limit is no limit, the same as leaving the key out, so exports leave nulls out, and the
period of a rate that is not set.
"""

from configfile.kinds.base import Context, PerApiKind, Scope, defaults_of, register
from configfile.kinds.references import (
    PERIOD_VALUES,
    PERIOD_WORDS,
    api_instance,
    api_path,
    check_api,
    field_changes,
    limit_item,
    period_value,
    saved,
)
from configfile.spec import Field, Obj
from traffic import services
from traffic.choices import MAX_BURST, MAX_QUOTA, MAX_RATE, WhenRedisDown
from traffic.fields import LIMIT_POLICY_FIELDS
from traffic.models import LimitPolicy

# Each period field, and the rate it is the period of.
PERIODS = {"period": "rate", "anonymous_period": "anonymous_rate"}
PERIOD_ENUM = tuple(PERIOD_VALUES)

SPEC = Obj(
    (
        Field("api", "string", "Base path of the API these limits are for.", True, max_length=300),
        Field(
            "rate",
            "integer",
            f"Calls per period and application (1-{MAX_RATE}); left out: no rate limit.",
            nullable=True,
        ),
        Field("period", "string", "The rate's window (default second).", enum=PERIOD_ENUM),
        Field(
            "burst",
            "integer",
            f"Calls admitted at once (1-{MAX_BURST}); left out: the rate itself.",
            nullable=True,
        ),
        Field(
            "quota_per_day",
            "integer",
            f"Calls per application and UTC day (1-{MAX_QUOTA}).",
            nullable=True,
        ),
        Field(
            "quota_per_month",
            "integer",
            f"Calls per application and UTC calendar month (1-{MAX_QUOTA}).",
            nullable=True,
        ),
        Field(
            "anonymous_rate",
            "integer",
            "Calls without an application (public routes) per client address and period.",
            nullable=True,
        ),
        Field("anonymous_period", "string", "The anonymous rate's window.", enum=PERIOD_ENUM),
        Field("anonymous_burst", "integer", nullable=True),
        Field(
            "when_redis_down",
            "string",
            "open: each gateway process counts alone; closed: calls get 503.",
            enum=tuple(WhenRedisDown.values),
        ),
    ),
    "The traffic limits of one API (applications' own limits: application_limits).",
    name_of=lambda item: item["api"],
)


def as_item(policy: LimitPolicy) -> dict:
    item = {"api": policy.api.base_path}
    item.update({name: getattr(policy, name) for name in LIMIT_POLICY_FIELDS})
    for name in PERIODS:
        item[name] = PERIOD_WORDS[item[name]]
    return limit_item(item, PERIODS)


@register
class TrafficLimits(PerApiKind):
    key = "traffic_limits"
    order = 50
    spec = SPEC

    def current(self, scope: Scope) -> dict[str, dict]:
        policies = LimitPolicy.objects.select_related("api")
        if not scope.everything:
            policies = policies.filter(api__base_path__in=scope.apis)
        return {policy.api.base_path: as_item(policy) for policy in policies}

    def desired(self, item: dict, where: str, context: Context) -> dict | None:
        base_path = api_path(item["api"], f"{where}.api", context)
        if base_path is None:
            return None
        defaults = defaults_of(LimitPolicy, LIMIT_POLICY_FIELDS)
        for name in PERIODS:
            defaults[name] = PERIOD_WORDS[defaults[name]]
        result = {"api": base_path}
        result.update({name: item.get(name, defaults[name]) for name in LIMIT_POLICY_FIELDS})
        return limit_item(result, PERIODS)

    def check(self, desired: dict[str, dict], context: Context) -> None:
        for name in desired:
            check_api(name, f"{self.where(name)}.api", context)

    def changed_fields(self, old: dict, new: dict, context: Context) -> list[tuple]:
        return field_changes(old, new, LIMIT_POLICY_FIELDS)

    # --- applying -----------------------------------------------------------------

    def create(self, name: str, item: dict, context: Context) -> None:
        self.create_many([(name, item)], context)

    def create_many(self, items: list[tuple[str, dict]], context: Context) -> None:
        policies, where = [], {}
        for name, item in items:
            api = api_instance(name, context)
            if api is None:  # the API itself failed, and said why
                continue
            policy = LimitPolicy(api=api)
            self._fill(policy, item)
            policies.append(policy)
            where[id(policy)] = self.where(name)
        for policy, exc in services.create_limit_policies(policies, context.actor):
            context.model_errors(where[id(policy)], exc)

    def update(self, name: str, old: dict, new: dict, context: Context) -> None:
        policy = LimitPolicy.objects.select_related("api").get(api__base_path=name)
        self._save(policy, name, new, context)

    def _save(self, policy: LimitPolicy, name: str, item: dict, context: Context) -> None:
        self._fill(policy, item)
        saved(services.save_limit_policy, policy, self.where(name), context)

    @staticmethod
    def _fill(policy: LimitPolicy, item: dict) -> None:
        for field in LIMIT_POLICY_FIELDS:
            value = item.get(field)
            setattr(policy, field, period_value(value) if field in PERIODS else value)

    def delete(self, name: str, old: dict, context: Context) -> None:
        policy = LimitPolicy.objects.filter(api__base_path=name).first()
        if policy is not None:
            services.delete_limit_policy(policy, context.actor)
