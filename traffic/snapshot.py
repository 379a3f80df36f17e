"""Limits in the compiled config snapshot: the data plane never reads them from the database.

`collect_limits()` turns the rows into plain JSON-able data (proxy/config.py puts it under
the snapshot's "traffic" key); `compile_limits()` turns that into frozen look-up structures:
for each API with limits, the default per application, the anonymous limit, each
overriding application's merged limits, and whether calls fail closed without Redis.
"""

from dataclasses import dataclass, field

from traffic.choices import WhenRedisDown
from traffic.models import ApplicationLimit, LimitPolicy

MICROSECONDS = 1_000_000


@dataclass(frozen=True, slots=True)
class Limits:
    """A rate (GCRA: `burst` calls at once, then `rate` per `period` seconds) and quotas
    per UTC day and calendar month; None means no such limit."""

    rate: int | None
    period: int
    burst: int | None
    quota_per_day: int | None
    quota_per_month: int | None
    # Derived: microseconds between two calls at the steady rate, and the tolerance
    # (how far ahead of the schedule a caller may be), the GCRA's two numbers.
    interval_us: int = field(init=False)
    tolerance_us: int = field(init=False)
    policy_header: str = field(init=False)  # the RateLimit-Policy value (IETF draft)

    def __post_init__(self) -> None:
        interval = tolerance = 0
        items = []
        if self.rate:
            interval = max(1, self.period * MICROSECONDS // self.rate)
            tolerance = interval * (self.burst or self.rate)
            items.append(f'"rate";q={self.rate};w={self.period}')
        if self.quota_per_day:
            items.append(f'"day";q={self.quota_per_day};w=86400')
        if self.quota_per_month:
            items.append(f'"month";q={self.quota_per_month}')  # months differ in length
        object.__setattr__(self, "interval_us", interval)
        object.__setattr__(self, "tolerance_us", tolerance)
        object.__setattr__(self, "policy_header", ", ".join(items))

    @property
    def empty(self) -> bool:
        return not (self.rate or self.quota_per_day or self.quota_per_month)

    def as_dict(self) -> dict:
        return {
            "rate": self.rate,
            "period": self.period,
            "burst": self.burst or self.rate,
            "quota_per_day": self.quota_per_day,
            "quota_per_month": self.quota_per_month,
        }


@dataclass(frozen=True, slots=True)
class ApiLimits:
    api_id: int
    default: Limits | None  # every application without an override
    anonymous: Limits | None  # calls without an application, per client address
    overrides: dict[int, Limits]  # application id -> its limits on this API
    fail_closed: bool

    def for_application(self, application_id: int) -> Limits | None:
        return self.overrides.get(application_id, self.default)


@dataclass(frozen=True, slots=True)
class TrafficConfig:
    apis: dict[int, ApiLimits]

    def for_api(self, api_id: int) -> ApiLimits | None:
        return self.apis.get(api_id)


NO_LIMITS = TrafficConfig(apis={})

_LIMIT_FIELDS = ("rate", "period", "burst", "quota_per_day", "quota_per_month")


def collect_limits() -> dict:
    """Every limit policy and application limit as plain data (two queries)."""
    policies = [
        [
            policy.api_id,
            [getattr(policy, name) for name in _LIMIT_FIELDS],
            [policy.anonymous_rate, policy.anonymous_period, policy.anonymous_burst],
            policy.when_redis_down,
        ]
        for policy in LimitPolicy.objects.all()
    ]
    overrides = [
        [limit.application_id, limit.api_id, [getattr(limit, name) for name in _LIMIT_FIELDS]]
        for limit in ApplicationLimit.objects.all()
    ]
    return {"policies": policies, "overrides": overrides}


def _limits(values: list) -> Limits | None:
    limits = Limits(*values)
    return None if limits.empty else limits


def _merged(default: list | None, *overrides: list | None) -> list:
    """Field by field, the first override that sets it wins; the default fills the rest.
    A rate brings its own period and burst: they are never mixed across levels."""
    merged = list(default or [None, 1, None, None, None])
    for override in reversed([o for o in overrides if o is not None]):
        rate, period, burst, day, month = override
        if rate is not None:
            merged[0:3] = [rate, period, burst]
        if day is not None:
            merged[3] = day
        if month is not None:
            merged[4] = month
    return merged


def compile_limits(data: dict | None) -> TrafficConfig:
    """The look-up structures of collect_limits()'s data; no database query."""
    if not data:
        return NO_LIMITS
    policies = {api_id: (limits, anon, down) for api_id, limits, anon, down in data["policies"]}
    everywhere: dict[int, list] = {}
    per_api: dict[int, dict[int, list]] = {}
    for application_id, api_id, values in data["overrides"]:
        if api_id is None:
            everywhere[application_id] = values
        else:
            per_api.setdefault(api_id, {})[application_id] = values
    apis = {}
    for api_id in set(policies) | set(per_api):
        default, anonymous, when_down = policies.get(api_id, (None, None, WhenRedisDown.OPEN))
        specific = per_api.get(api_id, {})
        overrides = {
            application_id: _limits(
                _merged(default, specific.get(application_id), everywhere.get(application_id))
            )
            for application_id in set(specific) | set(everywhere)
        }
        apis[api_id] = ApiLimits(
            api_id=api_id,
            default=_limits(default) if default else None,
            anonymous=_limits([*anonymous, None, None]) if anonymous else None,
            overrides=overrides,
            fail_closed=when_down == WhenRedisDown.CLOSED,
        )
    return TrafficConfig(apis=apis)
