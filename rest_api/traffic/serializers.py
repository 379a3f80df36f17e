from rest_framework import serializers

from rest_api.serializers import RejectUnknownFieldsMixin, ValidatedModelSerializer
from traffic.fields import APPLICATION_LIMIT_FIELDS, LIMIT_POLICY_FIELDS
from traffic.models import ApplicationLimit, LimitPolicy


class LimitPolicySerializer(RejectUnknownFieldsMixin, ValidatedModelSerializer):
    """The traffic limits of one API: the default rate and quotas per application, the rate
    of anonymous calls per client address, and the Redis-down choice."""

    class Meta:
        model = LimitPolicy
        fields = ["id", "api", *LIMIT_POLICY_FIELDS, "updated_at"]
        read_only_fields = ["updated_at"]


class ApplicationLimitSerializer(RejectUnknownFieldsMixin, ValidatedModelSerializer):
    """One application's own limits, on one API or (api null) on every API with limits;
    a field left null keeps the API's default."""

    class Meta:
        model = ApplicationLimit
        fields = ["id", "application", *APPLICATION_LIMIT_FIELDS, "updated_at"]
        read_only_fields = ["updated_at"]
        # One override per application and API: ApplicationLimit.clean() says so in words.
        validators: list = []


class LimitsInEffectSerializer(serializers.Serializer):
    rate = serializers.IntegerField(allow_null=True, help_text="Calls per period; null: none.")
    period = serializers.IntegerField(help_text="Seconds: 1, 60 or 3600.")
    burst = serializers.IntegerField(allow_null=True, help_text="Calls admitted at once.")
    quota_per_day = serializers.IntegerField(allow_null=True)
    quota_per_month = serializers.IntegerField(allow_null=True)


class ApiUsageSerializer(serializers.Serializer):
    """An application's limits on one API and how much of them it has used."""

    api = serializers.IntegerField()
    api_name = serializers.CharField()
    limits = LimitsInEffectSerializer(help_text="The limits in effect (overrides applied).")
    rate_remaining = serializers.IntegerField(
        allow_null=True, help_text="Calls it may make at once right now."
    )
    used_today = serializers.IntegerField(
        allow_null=True, help_text="Calls this UTC day; null without a daily quota."
    )
    remaining_today = serializers.IntegerField(allow_null=True)
    used_this_month = serializers.IntegerField(
        allow_null=True, help_text="Calls this UTC calendar month; null without a monthly quota."
    )
    remaining_this_month = serializers.IntegerField(allow_null=True)


class ApplicationUsageSerializer(serializers.Serializer):
    """Usage per limited API; counts are null when they cannot be read."""

    counters = serializers.ChoiceField(
        choices=["redis", "process", "unavailable"],
        help_text="redis: shared counts; process: no Redis, each gateway process counts "
        "alone and nothing is shown; unavailable: Redis did not answer.",
    )
    apis = ApiUsageSerializer(many=True)
