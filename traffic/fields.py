"""The fields an admin edits, shared by the console's forms and the REST serializers."""

LIMIT_POLICY_FIELDS = (
    "rate",
    "period",
    "burst",
    "quota_per_day",
    "quota_per_month",
    "anonymous_rate",
    "anonymous_period",
    "anonymous_burst",
    "when_redis_down",
)
APPLICATION_LIMIT_FIELDS = ("api", "rate", "period", "burst", "quota_per_day", "quota_per_month")
