"""The write path of limit policies and application limits (core/changes.py): validated,
audited, and announced so every gateway worker loads the new limits."""

from core import changes
from traffic.models import ApplicationLimit, LimitPolicy


def save_limit_policy(policy: LimitPolicy, actor=None) -> LimitPolicy:
    return changes.save(policy, actor)


def create_limit_policies(policies: list[LimitPolicy], actor=None) -> changes.Invalid:
    """save_limit_policy for the new limits of many APIs (a configuration file): the same
    rules (LimitPolicy.clean), one audit event each, one version. Returns what breaks a
    rule; then nothing is written. One policy per API is the caller's to keep."""
    invalid = changes.validate_many(policies, exclude=["api"])
    if not invalid:
        changes.create_many(policies, actor)
    return invalid


def delete_limit_policy(policy: LimitPolicy, actor=None) -> None:
    changes.delete(policy, actor)


def save_application_limit(limit: ApplicationLimit, actor=None) -> ApplicationLimit:
    return changes.save(limit, actor)


def delete_application_limit(limit: ApplicationLimit, actor=None) -> None:
    changes.delete(limit, actor)
