"""With everything observability does switched on (metrics, access log, traffic rollups,
trace export), a proxied call, allowed or refused, still makes no database query: the
rollups reach the database only from the flush thread."""

from analytics.models import TrafficRollup
from analytics.recorder import recorder
from proxy import call_record, tracing
from tests.servers import call_gateway_in_thread as call


def test_observed_calls_do_no_database_query(
    published, django_assert_num_queries, settings, tmp_path, monkeypatch
):
    settings.GATEWAY_REQUEST_LOG = str(tmp_path / "access.log")
    settings.GATEWAY_METRICS = True
    settings.GATEWAY_ANALYTICS = True
    settings.REDIS_URL = ""  # the direct-to-database flush of the embedded setup
    settings.OTEL_EXPORTER_OTLP_ENDPOINT = "http://127.0.0.1:9"  # nothing listens: spans drop
    monkeypatch.setattr(tracing, "_processor", None)
    token = published.token()
    assert call("/gateway/petstore/v1/pets", token)[0] == 200  # warm-up
    recorder.take()
    with django_assert_num_queries(0):
        for _ in range(5):
            assert call("/gateway/petstore/v1/pets", token)[0] == 200
        assert call("/gateway/petstore/v1/nowhere", token)[0] == 404
        assert call("/gateway/other/v1/x", token)[0] == 404
        assert call("/gateway/petstore/v1/pets", "not-a-token")[0] == 401
    assert TrafficRollup.objects.count() == 0
    assert recorder.flush() == 8  # the flush thread's job, off the event loop
    assert sum(row.count for row in TrafficRollup.objects.all()) == 8
    call_record.flush()  # queued lines, written by the housekeeping thread or a timer
    assert (tmp_path / "access.log").read_text().count("\n") == 9
