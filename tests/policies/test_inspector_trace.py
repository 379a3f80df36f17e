"""The token inspector's trace shows every stage of the chain, in the documented order."""

from policies.models import (
    ClientAddressPolicy,
    CorsPolicy,
    RequestLimits,
    Transformation,
    UpstreamTarget,
)
from proxy.inspector import inspect_token


def test_the_trace_names_every_stage_in_order(published, attach):
    attach(CorsPolicy, allowed_origins=["https://app.example.com"])
    attach(RequestLimits, max_body_bytes=100)
    attach(ClientAddressPolicy, deny=["192.0.2.0/24"])
    attach(
        Transformation,
        target="request_header",
        operation="set",
        name="X-A",
        source="constant",
        value="1",
    )
    attach(UpstreamTarget, url=published.upstream.url)
    inspection = inspect_token(published.api, "GET", "/pets", published.token())
    assert inspection.allowed, inspection.trace
    checks = [step["check"] for step in inspection.trace]
    order = [
        "cors",
        "request_limits",
        "client_address (API)",
        "route",
        "application",
        "scopes",
        "transform",
        "routing",
    ]
    positions = [checks.index(name) for name in order]
    assert positions == sorted(positions), checks
    routing = inspection.trace[checks.index("routing")]
    assert "1 targets" in routing["detail"]
