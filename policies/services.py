"""The write path of the policy chain (core/changes.py), and what activation checks."""

from django.core.exceptions import ObjectDoesNotExist, ValidationError

from core import changes
from policies.models import (
    ClientAddressPolicy,
    CorsPolicy,
    LoadBalancing,
    RequestLimits,
    Transformation,
    UpstreamTarget,
)

POLICY_MODELS = (
    CorsPolicy,
    ClientAddressPolicy,
    RequestLimits,
    Transformation,
    UpstreamTarget,
    LoadBalancing,
)


def save_policy(instance, actor=None):
    """Create or update any policy of the chain; its clean() holds the rules."""
    return changes.save(instance, actor)


def delete_policy(instance, actor=None) -> None:
    changes.delete(instance, actor)


# The API's relations chain_problems reads: activate_apis prefetches them for many APIs.
CHAIN_RELATIONS = (
    "upstream_targets",
    "load_balancing",
    "cors_policy",
    "request_limits",
    "client_addresses",
    "transformations",
)


def chain_problems(api) -> list[str]:
    """What stops the API's chain from being served (apis/services.py activation_problems)."""
    problems = []
    targets = list(api.upstream_targets.all())
    if targets and not any(target.enabled for target in targets):
        problems.append("Every upstream target is disabled: enable one, or delete them all.")
    if _attached(api, "load_balancing") and not targets:
        problems.append("Load balancing is set up but the API has no upstream targets.")
    for policy in (
        *_attached(api, "cors_policy"),
        *_attached(api, "request_limits"),
        *_attached(api, "client_addresses"),
        *api.transformations.all(),
        *targets,
    ):
        try:
            policy.full_clean()
        except ValidationError as exc:  # the rules changed since it was saved
            problems.append(f"{policy}: {' '.join(exc.messages)}")
    return problems


def _attached(api, name: str) -> list:
    """The API's one policy behind a one-to-one relation, as a list of none or one."""
    try:
        return [getattr(api, name)]
    except ObjectDoesNotExist:
        return []
