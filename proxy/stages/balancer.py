"""Load-balanced upstreams (stage 4): which target gets a call, and each target's health.

Per-process state, kept by target id so it survives config rebuilds. A target is
taken out of rotation ("ejected") after `passive_failures` consecutive connection
errors or 5xx answers, or after `unhealthy_threshold` failed active checks; it comes
back after `healthy_threshold` good active checks or, without active checks, after
`ejection_seconds`. When every target is out, all of them are tried (as Envoy's
panic mode): refusing every call would be worse than trying.
"""

import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ROUND_ROBIN, LEAST_CONNECTIONS = "round_robin", "least_connections"
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True, slots=True)
class Target:
    id: int
    url: str
    scheme: str
    host: str
    port: int
    weight: int


@dataclass(frozen=True, slots=True)
class BalancerConfig:
    api_id: int
    targets: tuple[Target, ...]
    algorithm: str
    health_path: str
    interval: float
    timeout: float
    healthy_threshold: int
    unhealthy_threshold: int
    passive_failures: int
    ejection_seconds: float
    retry: bool
    single: Target | None = None  # the only target, when there is one


DEFAULTS = {
    "algorithm": ROUND_ROBIN,
    "health_path": "",
    "interval": 5.0,
    "timeout": 2.0,
    "healthy_threshold": 2,
    "unhealthy_threshold": 2,
    "passive_failures": 3,
    "ejection_seconds": 30.0,
    "retry": True,
}


def compile_balancer(
    api_id: int, rows: list | None, settings: dict | None
) -> BalancerConfig | None:
    if not rows:
        return None
    targets = []
    for target_id, url, weight in rows:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        targets.append(Target(target_id, url, parts.scheme, parts.hostname or "", port, weight))
    return BalancerConfig(
        api_id,
        tuple(targets),
        **{**DEFAULTS, **(settings or {})},
        single=targets[0] if len(targets) == 1 else None,
    )


@dataclass(slots=True)
class TargetState:
    healthy: bool = True
    failures: int = 0  # consecutive passive failures
    check_failures: int = 0
    check_successes: int = 0
    active: int = 0  # calls under way (least connections)
    ejected_at: float = 0.0
    reason: str = "no failures seen"
    changed_at: float = field(default_factory=time.time)
    next_check: float = 0.0
    reported_at: float = 0.0

    def public(self) -> dict:
        return {
            "healthy": self.healthy,
            "reason": self.reason,
            "changed_at": self.changed_at,
            "active_connections": self.active,
        }


states: dict[int, TargetState] = {}  # target id → its state; see state()
_weights: dict[int, dict[int, int]] = {}  # api id → target id → smooth round-robin weight


def state(target_id: int) -> TargetState:
    found = states.get(target_id)
    if found is None:
        found = states[target_id] = TargetState()
    return found


def reset() -> None:
    """Forget every target's state (tests)."""
    states.clear()
    _weights.clear()


def pick(balancer: BalancerConfig, exclude: int | None = None) -> Target | None:
    target = balancer.single
    if target is not None and exclude is None:
        # One target: it gets every call, in rotation or not (as when all are out).
        current = states.get(target.id)
        if current is None or current.healthy:
            return target
    now = time.monotonic()
    candidates = []
    for target in balancer.targets:
        if target.id == exclude:
            continue
        current = state(target.id)
        if (
            not current.healthy
            and not balancer.health_path
            and now - current.ejected_at >= balancer.ejection_seconds
        ):
            _set(current, True, "ejection period over; back in rotation")
        if current.healthy:
            candidates.append(target)
    if not candidates:
        candidates = [target for target in balancer.targets if target.id != exclude]
        if not candidates:
            return None
    if len(candidates) == 1:
        return candidates[0]
    if balancer.algorithm == LEAST_CONNECTIONS:
        return _least_connections(balancer, candidates)
    return _round_robin(balancer.api_id, candidates)


def _round_robin(api_id: int, candidates: list[Target]) -> Target:
    """nginx's smooth weighted round robin: weights 5,1,1 give a a b a c a a, not a a a a a b c."""
    weights = _weights.get(api_id)
    if weights is None:
        weights = _weights[api_id] = {}
    total = 0
    best, best_weight = None, None
    for target in candidates:
        current = weights.get(target.id, 0) + target.weight
        weights[target.id] = current
        total += target.weight
        if best_weight is None or current > best_weight:
            best, best_weight = target, current
    weights[best.id] -= total
    return best


def _least_connections(balancer: BalancerConfig, candidates: list[Target]) -> Target:
    # Ties go round robin, so an idle pool spreads instead of piling on the first target.
    fewest = min(state(t.id).active / t.weight for t in candidates)
    tied = [t for t in candidates if state(t.id).active / t.weight == fewest]
    return tied[0] if len(tied) == 1 else _round_robin(balancer.api_id, tied)


def _set(current: TargetState, healthy: bool, reason: str) -> bool:
    changed = current.healthy != healthy
    current.reason = reason
    if changed:
        current.healthy = healthy
        current.changed_at = time.time()
        current.ejected_at = time.monotonic() if not healthy else 0.0
        current.failures = current.check_failures = current.check_successes = 0
    return changed


def passive_success(target_id: int) -> None:
    current = state(target_id)
    current.failures = 0


def passive_failure(balancer: BalancerConfig, target_id: int, reason: str) -> bool:
    """A connection error or 5xx; True when it took the target out of rotation."""
    current = state(target_id)
    current.failures += 1
    if (
        current.healthy
        and balancer.passive_failures
        and current.failures >= balancer.passive_failures
    ):
        return _set(current, False, f"ejected after {current.failures} failed calls: {reason}")
    return False


def check_result(balancer: BalancerConfig, target_id: int, ok: bool, reason: str) -> bool:
    """An active health check's outcome; True when the target changed state."""
    current = state(target_id)
    if ok:
        current.check_failures = 0
        current.check_successes += 1
        if not current.healthy and current.check_successes >= balancer.healthy_threshold:
            return _set(current, True, f"{current.check_successes} good health checks")
    else:
        current.check_successes = 0
        current.check_failures += 1
        if current.healthy and current.check_failures >= balancer.unhealthy_threshold:
            return _set(current, False, f"{current.check_failures} failed health checks: {reason}")
    return False
