"""Where a data-plane worker reports the health of upstream targets, and where the
console and REST read it: the shared cache (Redis in production), one key per target.

Each worker keeps its own view (proxy/stages/balancer.py) and writes it here when a
target changes state and after each round of active checks; the last report wins.
"""

from django.core.cache import cache

KEY = "gatekeep:target-state:{}"
TTL_SECONDS = 3600


def report(target_id: int, state: dict) -> None:
    cache.set(KEY.format(target_id), state, TTL_SECONDS)


def states(target_ids: list[int]) -> dict[int, dict]:
    """target id → the last reported state (targets never reported are absent)."""
    found = cache.get_many([KEY.format(target_id) for target_id in target_ids])
    return {
        target_id: found[KEY.format(target_id)]
        for target_id in target_ids
        if KEY.format(target_id) in found
    }
