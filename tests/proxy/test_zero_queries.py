"""Steady state: an authorized call costs no database query (docs/architecture.md, The path
of a proxied call).

The data plane's event loop runs in this thread here, so every query it made
would be counted; config polls and key reloads run in other threads by design.
"""

from tests.servers import call_gateway_in_thread as call


def test_a_repeated_authorized_call_does_no_database_query(
    published, django_assert_num_queries, settings
):
    # Poll the shared config version and key snapshot on every call: still no query.
    settings.GATEWAY_CONFIG_POLL_SECONDS = 0
    settings.GATEWAY_KEYS_POLL_SECONDS = 0
    token = published.token()
    path = "/gateway/petstore/v1/pets"
    assert call(path, token)[0] == 200  # warms routes, keys and the token cache
    with django_assert_num_queries(0):
        for _ in range(20):
            status, body = call(path, token)
            assert status == 200, body
    assert published.upstream.hits == 21


def test_distinct_tokens_cost_no_query_either(published, django_assert_num_queries):
    call("/gateway/petstore/v1/pets", published.token())
    tokens = [published.token(sub=f"user-{n}") for n in range(10)]
    with django_assert_num_queries(0):
        for token in tokens:
            assert call("/gateway/petstore/v1/pets", token)[0] == 200


def test_the_whole_policy_chain_costs_no_query_either(published, django_assert_num_queries):
    """CORS, client addresses, limits, transformations and load-balanced targets: all
    compiled into the config snapshot (proxy/stages/)."""
    from policies.models import (
        ClientAddressPolicy,
        CorsPolicy,
        LoadBalancing,
        RequestLimits,
        Transformation,
        UpstreamTarget,
    )
    from policies.services import save_policy

    api = published.api
    save_policy(CorsPolicy(api=api, allowed_origins=["https://app.example.com"]))
    save_policy(ClientAddressPolicy(api=api, allow=["127.0.0.0/8"]))
    save_policy(ClientAddressPolicy(application=published.application, deny=["10.0.0.0/8"]))
    save_policy(RequestLimits(api=api, max_body_bytes=1000, max_header_count=50))
    save_policy(
        Transformation(
            api=api,
            target="request_header",
            operation="set",
            name="X-Sub",
            source="claim",
            value="sub",
        )
    )
    save_policy(UpstreamTarget(api=api, url=published.upstream.url))
    save_policy(LoadBalancing(api=api, algorithm="least_connections"))
    token = published.token()
    path = "/gateway/petstore/v1/pets"
    assert call(path, token)[0] == 200
    with django_assert_num_queries(0):
        for _ in range(10):
            status, body = call(path, token)
            assert status == 200, body
    assert published.upstream.last["headers"]["x-sub"] == "user-42"
