"""Every policy of the chain and every kind of traffic limit, made through the services,
on top of conftest.build_gateway(): /shop0/v1 (active) gets the whole chain."""

import pytest

from apis.models import Api, Route
from applications.models import Application
from configfile.apply import apply
from configfile.export import export_text
from configfile.problems import ConfigInvalid
from policies.models import (
    ClientAddressPolicy,
    CorsPolicy,
    LoadBalancing,
    RequestLimits,
    Transformation,
    UpstreamTarget,
)
from policies.services import save_policy
from tests.configfile.conftest import audit_count, build_gateway, version
from traffic.models import ApplicationLimit, LimitPolicy
from traffic.services import save_application_limit, save_limit_policy

CHAIN_MODELS = (
    CorsPolicy,
    ClientAddressPolicy,
    RequestLimits,
    Transformation,
    UpstreamTarget,
    LoadBalancing,
    LimitPolicy,
    ApplicationLimit,
)


def build_chains() -> None:
    build_gateway(apis=2, routes=2, applications=3)
    shop0, shop1 = Api.objects.get(base_path="/shop0/v1"), Api.objects.get(base_path="/shop1/v1")
    item_route = Route.objects.get(api=shop0, method="GET", path="/items0/{id}")
    save_policy(
        CorsPolicy(
            api=shop0,
            allowed_origins=["https://app.example.com", "https://*.partner.example"],
            allowed_methods=["GET", "POST"],
            exposed_headers=["X-Total-Count"],
            allow_credentials=True,
            max_age_seconds=300,
        )
    )
    save_policy(
        ClientAddressPolicy(api=shop0, allow=["10.0.0.0/8", "2001:db8::/32"], deny=["10.66.0.0/16"])
    )
    save_policy(
        RequestLimits(
            api=shop0,
            max_body_bytes=1048576,
            max_header_count=50,
            allowed_content_types=["application/json", "text/*"],
        )
    )
    rules = [
        {"target": "request_header", "operation": "set", "name": "X-Tenant", "source": "claim",
         "value": "tenant"},
        {"target": "request_header", "operation": "set", "name": "X-Item",
         "source": "path_param", "value": "id", "route": item_route},
        {"target": "query_param", "operation": "set", "name": "api-version", "value": "2"},
        {"target": "response_header", "operation": "remove", "name": "X-Powered-By"},
        # A blank source, as the REST API may store for a rename: read as the default.
        {"target": "request_header", "operation": "rename", "name": "X-Old",
         "new_name": "X-New", "source": ""},
        {"target": "request_header", "operation": "add", "name": "X-App",
         "source": "application", "value": "name"},
    ]  # fmt: skip
    for position, rule in enumerate(rules):
        save_policy(Transformation(api=shop0, position=position * 10, **rule))
    save_policy(Transformation(api=shop1, target="response_header", operation="remove",
                               name="Server-Timing"))  # fmt: skip
    save_policy(UpstreamTarget(api=shop0, url="http://10.0.0.12:8080", enabled=False))
    save_policy(UpstreamTarget(api=shop0, url="http://10.0.0.11:8080", weight=2))
    save_policy(
        LoadBalancing(
            api=shop0,
            algorithm="least_connections",
            health_check_path="/healthz",
            health_check_interval=2.5,
            healthy_threshold=3,
            passive_failures=0,
            retry=False,
        )
    )
    save_limit_policy(
        LimitPolicy(
            api=shop0,
            rate=100,
            period=60,
            burst=20,
            quota_per_day=10_000,
            quota_per_month=200_000,
            anonymous_rate=5,
            when_redis_down="closed",
        )
    )
    save_limit_policy(LimitPolicy(api=shop1, quota_per_day=5))
    client1 = Application.objects.get(name="client-0001")
    save_application_limit(ApplicationLimit(application=client1, api=shop1, rate=1000, period=3600))
    client2 = Application.objects.get(name="client-0002")
    save_application_limit(ApplicationLimit(application=client2, quota_per_month=50))
    save_policy(ClientAddressPolicy(application=client1, allow=["198.51.100.0/24"]))


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in CHAIN_MODELS}


def refused(text: str) -> list[str]:
    """Apply `text`; it must be refused with nothing changed. Returns the problems."""
    before, events, exported, rows = version(), audit_count(), export_text(), counts()
    with pytest.raises(ConfigInvalid) as caught:
        apply(text)
    assert (version(), audit_count(), export_text(), counts()) == (before, events, exported, rows)
    return [str(problem) for problem in caught.value.problems]
