"""The write path of limit policies and application limits (core/changes.py): validated,
audited, and announced so every gateway worker loads the new limits."""

from core import changes
from traffic.models import ApplicationLimit, LimitPolicy


def save_limit_policy(policy: LimitPolicy, actor=None) -> LimitPolicy:
    return changes.save(policy, actor)


def delete_limit_policy(policy: LimitPolicy, actor=None) -> None:
    changes.delete(policy, actor)


def save_application_limit(limit: ApplicationLimit, actor=None) -> ApplicationLimit:
    return changes.save(limit, actor)


def delete_application_limit(limit: ApplicationLimit, actor=None) -> None:
    changes.delete(limit, actor)
