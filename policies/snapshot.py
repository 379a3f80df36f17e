"""The policy chain of each active API as plain JSON-able data, for the data plane's
config snapshot (proxy/config.py collect_snapshot → proxy/stages/chain.py compile_chain).

A handful of queries for all APIs together, never one per API.
"""

from collections import defaultdict

from applications.models import Application
from policies.models import (
    ClientAddressPolicy,
    CorsPolicy,
    LoadBalancing,
    RequestLimits,
    Transformation,
    UpstreamTarget,
)


def collect_chains(api_ids: list[int]) -> dict[int, dict]:
    """api id → its chain data (only APIs with at least one policy of the chain)."""
    chains: dict[int, dict] = defaultdict(dict)
    for cors in CorsPolicy.objects.filter(api_id__in=api_ids):
        chains[cors.api_id]["cors"] = {
            "origins": list(cors.allowed_origins),
            "methods": list(cors.allowed_methods),
            "headers": list(cors.allowed_headers),
            "exposed": list(cors.exposed_headers),
            "credentials": cors.allow_credentials,
            "max_age": cors.max_age_seconds,
        }
    for policy in ClientAddressPolicy.objects.filter(api_id__in=api_ids):
        chains[policy.api_id]["addresses"] = {"allow": policy.allow, "deny": policy.deny}
    application_rows = (
        Application.apis.through.objects.filter(
            api_id__in=api_ids, application__client_addresses__isnull=False
        )
        .values_list(
            "api_id",
            "application_id",
            "application__client_addresses__allow",
            "application__client_addresses__deny",
        )
        .order_by("api_id", "application_id")
    )
    for api_id, app_id, allow, deny in application_rows:
        chains[api_id].setdefault("application_addresses", []).append([app_id, allow, deny])
    for limits in RequestLimits.objects.filter(api_id__in=api_ids):
        chains[limits.api_id]["limits"] = {
            "max_body_bytes": limits.max_body_bytes,
            "max_header_count": limits.max_header_count,
            "max_header_bytes": limits.max_header_bytes,
            "content_types": list(limits.allowed_content_types),
        }
    for rule in Transformation.objects.filter(api_id__in=api_ids).order_by(
        "api_id", "position", "id"
    ):
        chains[rule.api_id].setdefault("transforms", []).append(
            [
                rule.route_id,
                rule.target,
                rule.operation,
                rule.name,
                rule.new_name,
                rule.source,
                rule.value,
            ]
        )
    for target in UpstreamTarget.objects.filter(api_id__in=api_ids, enabled=True):
        chains[target.api_id].setdefault("targets", []).append(
            [target.id, target.url, target.weight]
        )
    for balancing in LoadBalancing.objects.filter(api_id__in=api_ids):
        chains[balancing.api_id]["balancing"] = {
            "algorithm": balancing.algorithm,
            "health_path": balancing.health_check_path,
            "interval": balancing.health_check_interval,
            "timeout": balancing.health_check_timeout,
            "healthy_threshold": balancing.healthy_threshold,
            "unhealthy_threshold": balancing.unhealthy_threshold,
            "passive_failures": balancing.passive_failures,
            "ejection_seconds": balancing.ejection_seconds,
            "retry": balancing.retry,
        }
    return dict(chains)
