"""The write path of the policy chain (core/changes.py), and what activation checks."""

from django.core.exceptions import ValidationError

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


def chain_problems(api) -> list[str]:
    """What stops the API's chain from being served (apis/services.py activation_problems)."""
    problems = []
    targets = list(UpstreamTarget.objects.filter(api=api))
    if targets and not any(target.enabled for target in targets):
        problems.append("Every upstream target is disabled: enable one, or delete them all.")
    if LoadBalancing.objects.filter(api=api).exists() and not targets:
        problems.append("Load balancing is set up but the API has no upstream targets.")
    for policy in (
        *CorsPolicy.objects.filter(api=api),
        *RequestLimits.objects.filter(api=api),
        *ClientAddressPolicy.objects.filter(api=api),
        *Transformation.objects.filter(api=api),
        *targets,
    ):
        try:
            policy.full_clean()
        except ValidationError as exc:  # the rules changed since it was saved
            problems.append(f"{policy}: {' '.join(exc.messages)}")
    return problems
