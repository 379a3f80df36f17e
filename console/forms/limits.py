"""Forms of the traffic-limit pages: an API's limits and an application's own."""

from apis.models import Api
from console.forms.base import ConsoleModelForm
from traffic.fields import APPLICATION_LIMIT_FIELDS, LIMIT_POLICY_FIELDS
from traffic.models import ApplicationLimit, LimitPolicy


class LimitPolicyForm(ConsoleModelForm):
    class Meta:
        model = LimitPolicy
        fields = LIMIT_POLICY_FIELDS
        labels = {
            "rate": "Rate per application",
            "anonymous_rate": "Anonymous rate per client address",
            "anonymous_period": "Anonymous period",
            "anonymous_burst": "Anonymous burst",
            "when_redis_down": "While Redis is down",
        }


class ApplicationLimitForm(ConsoleModelForm):
    class Meta:
        model = ApplicationLimit
        fields = APPLICATION_LIMIT_FIELDS
        labels = {"api": "API"}

    def __init__(self, *args, application=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.application = application
        self.fields["api"].queryset = Api.objects.filter(applications=application)
        self.fields["api"].empty_label = "Every API with limits"
