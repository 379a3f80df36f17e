"""Helpers for traffic-limit tests: limits written through the services, counters reset."""

import pytest

from proxy import rate_limits
from traffic.models import ApplicationLimit, LimitPolicy
from traffic.services import save_application_limit, save_limit_policy


@pytest.fixture(autouse=True)
def fresh_counters(settings):
    """Per-process counters and the Redis outage state start empty (Redis is flushed by
    the shared fixtures); without Redis the one in-process data plane counts the whole
    limit."""
    settings.GATEWAY_RATE_LIMIT_PROCESSES = 1
    rate_limits.local.clear()
    rate_limits.shared.down = False
    rate_limits.shared.down_until = 0.0
    yield
    rate_limits.local.clear()


def limit_api(api, **fields) -> LimitPolicy:
    policy = LimitPolicy.objects.filter(api=api).first() or LimitPolicy(api=api)
    for name, value in fields.items():
        setattr(policy, name, value)
    return save_limit_policy(policy)


def limit_application(application, api=None, **fields) -> ApplicationLimit:
    return save_application_limit(ApplicationLimit(application=application, api=api, **fields))


from tests.production import production_gateway, redis_server  # noqa: E402, F401 - fixtures
from tests.rest_api.conftest import (  # noqa: E402, F401 - fixtures
    anon_client,
    member_client,
    role_client,
    staff_client,
    staff_token,
    staff_user,
)
