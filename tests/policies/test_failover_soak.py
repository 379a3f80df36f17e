"""A short failover soak (bench/failover.py for the long one): three load-balanced target
processes, one SIGKILLed mid-run and restarted, under concurrent calls."""

import pytest

from bench.failover import Backend, run_soak
from policies.models import LoadBalancing, UpstreamTarget
from tests.production import free_port


@pytest.mark.serial
def test_a_killed_target_costs_at_most_a_few_calls_and_comes_back(published, attach):
    from proxy.stages import balancer

    balancer.reset()
    backends = [Backend(free_port()) for _ in range(3)]
    try:
        for backend in backends:
            attach(UpstreamTarget, url=backend.url)
        attach(
            LoadBalancing,
            health_check_path="/healthz",
            health_check_interval=0.5,
            health_check_timeout=0.5,
            healthy_threshold=2,
            unhealthy_threshold=1,
            passive_failures=1,
        )
        url = published.url + "/pets"
        good = published.token(scope="pets:read")
        scopeless = published.token(scope="other")
        published.get("/pets", token=good)  # loads the config and starts the health checks
        summary = run_soak(url, good, scopeless, backends, seconds=10, clients=4)
    finally:
        for backend in backends:
            backend.stop()
        balancer.reset()
    assert summary["calls"] > 500, summary
    assert summary["failure_rate_during_ejection"] <= 0.001, summary
    assert summary["failures_by_phase"].get("after", 0) == 0, summary
    assert summary["failures_by_phase"].get("before", 0) == 0, summary
    assert summary["wrong_decisions"] == 0, summary
    assert summary["restarted_target_calls"] > 0, summary
