"""Traffic rollups: calls per minute (hour, after GATEWAY_ANALYTICS_MINUTE_HOURS) for one
API x application x status class.

Telemetry, not configuration: rows are written by analytics/services.py from what the
data plane aggregated in memory, never per request, and never audited or versioned.
API and application are plain ids (0: none matched), so deleting an API keeps its
history readable and a late flush for a deleted one still lands.
"""

from django.db import models

MINUTE = 60
HOUR = 3600


class TrafficRollup(models.Model):
    """Calls in one time bucket for one API x application x status class."""

    resolution = models.PositiveIntegerField(help_text="Bucket length in seconds (60 or 3600).")
    start = models.DateTimeField()
    api_id = models.BigIntegerField(default=0)
    application_id = models.BigIntegerField(default=0)
    status_class = models.PositiveSmallIntegerField(help_text="1-5: 1xx … 5xx.")
    count = models.BigIntegerField(default=0)
    latency_ms_sum = models.FloatField(default=0.0)
    # Counts per bucket of analytics/histogram.py BOUNDS_MS (+ one overflow bucket).
    latency_buckets = models.JSONField(default=list)
    # Refusal code -> count (problem codes of DESIGN.md §3, a bounded vocabulary).
    refusals = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["resolution", "start", "api_id", "application_id", "status_class"],
                name="analytics_rollup_unique_bucket",
            )
        ]
        indexes = [
            models.Index(fields=["start", "resolution"], name="analytics_rollup_start"),
            models.Index(fields=["api_id", "start"], name="analytics_rollup_api"),
            models.Index(fields=["application_id", "start"], name="analytics_rollup_app"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.start:%Y-%m-%d %H:%M} api={self.api_id} app={self.application_id} "
            f"{self.status_class}xx: {self.count}"
        )
