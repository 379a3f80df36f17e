"""Forms of the policy chain page (console/policies.py)."""

from django import forms

from apis.models import Route
from console.forms.base import ConsoleModelForm, WordListField
from policies.models import (
    ClientAddressPolicy,
    CorsPolicy,
    LoadBalancing,
    RequestLimits,
    Transformation,
    UpstreamTarget,
)


class CorsForm(ConsoleModelForm):
    allowed_origins = WordListField(
        help_text="https://app.example.com, https://*.example.com, or * (space-separated)."
    )
    allowed_methods = WordListField()
    allowed_headers = WordListField(required=False)
    exposed_headers = WordListField(required=False)

    class Meta:
        model = CorsPolicy
        fields = [
            "allowed_origins",
            "allowed_methods",
            "allowed_headers",
            "exposed_headers",
            "allow_credentials",
            "max_age_seconds",
        ]


class AddressForm(ConsoleModelForm):
    allow = WordListField(required=False, help_text="Addresses or CIDR networks; empty: all.")
    deny = WordListField(required=False, help_text="Deny wins over allow.")

    class Meta:
        model = ClientAddressPolicy
        fields = ["allow", "deny"]


class LimitsForm(ConsoleModelForm):
    allowed_content_types = WordListField(
        required=False, help_text="application/json text/* (space-separated); empty: any."
    )

    class Meta:
        model = RequestLimits
        fields = ["max_body_bytes", "max_header_count", "max_header_bytes", "allowed_content_types"]


class BalancingForm(ConsoleModelForm):
    class Meta:
        model = LoadBalancing
        fields = [
            "algorithm",
            "health_check_path",
            "health_check_interval",
            "health_check_timeout",
            "healthy_threshold",
            "unhealthy_threshold",
            "passive_failures",
            "ejection_seconds",
            "retry",
        ]


class TargetForm(ConsoleModelForm):
    class Meta:
        model = UpstreamTarget
        fields = ["url", "weight", "enabled"]
        widgets = {"url": forms.TextInput(attrs={"placeholder": "http://10.0.0.5:8080"})}


class TransformationForm(ConsoleModelForm):
    class Meta:
        model = Transformation
        fields = ["route", "position", "target", "operation", "name", "new_name", "source", "value"]

    def __init__(self, *args, api=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["route"].queryset = Route.objects.filter(api=api)
