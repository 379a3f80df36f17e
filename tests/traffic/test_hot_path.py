"""A limited call still costs no database query: the limits come with the compiled config."""

from tests.servers import call_gateway_in_thread as call
from tests.traffic.conftest import limit_api, limit_application
from traffic.choices import Period


def test_a_limited_call_does_no_database_query(published, django_assert_num_queries, settings):
    settings.GATEWAY_CONFIG_POLL_SECONDS = 0
    limit_api(published.api, rate=1000, period=Period.MINUTE, quota_per_day=1000, anonymous_rate=5)
    limit_application(published.application, None, quota_per_month=10_000)
    token = published.token()
    path = "/gateway/petstore/v1/pets"
    assert call(path, token)[0] == 200  # warms routes, keys, the token cache and the limits
    with django_assert_num_queries(0):
        for _ in range(20):
            status, body = call(path, token)
            assert status == 200, body


def test_a_refused_call_does_no_database_query_either(published, django_assert_num_queries):
    limit_api(published.api, rate=1, period=Period.HOUR, burst=1)
    token = published.token()
    path = "/gateway/petstore/v1/pets"
    assert call(path, token)[0] == 200
    with django_assert_num_queries(0):
        status, body = call(path, token)
    assert status == 429, body
    assert published.upstream.hits == 1
