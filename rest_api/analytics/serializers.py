"""Traffic analytics in the admin API: the series the console charts (analytics/services.py)."""

from rest_framework import serializers

from analytics.services import WINDOWS

WINDOW_CHOICES = list(WINDOWS)
MAX_ID = 2**63 - 1  # ids are 64-bit: a larger number would fail in the database, not here


class TrafficQuerySerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=WINDOW_CHOICES, default="hour")
    api = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this API's calls."
    )
    application = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this application's calls."
    )


class ApplicationTrafficQuerySerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=WINDOW_CHOICES, default="day")
    api = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this API's calls."
    )


class TrafficPointSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    requests = serializers.IntegerField()
    errors = serializers.IntegerField(help_text="Answers with a 4xx or 5xx status.")
    requests_per_minute = serializers.FloatField()
    error_rate = serializers.FloatField(allow_null=True)
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)


class RefusalCountSerializer(serializers.Serializer):
    code = serializers.CharField()
    count = serializers.IntegerField()


class TrafficSeriesSerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=WINDOW_CHOICES)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    step_seconds = serializers.IntegerField()
    total = TrafficPointSerializer()
    points = TrafficPointSerializer(many=True)
    top_refusals = RefusalCountSerializer(many=True)


class ApplicationTrafficSerializer(serializers.Serializer):
    application = serializers.IntegerField(source="application_id")
    name = serializers.CharField(allow_null=True)
    requests = serializers.IntegerField()
    errors = serializers.IntegerField()
    last_seen = serializers.DateTimeField(allow_null=True)
