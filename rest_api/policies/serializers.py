from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from policies.models import (
    ClientAddressPolicy,
    CorsPolicy,
    LoadBalancing,
    RequestLimits,
    Transformation,
    UpstreamTarget,
)
from policies.target_state import states
from rest_api.fields import StringListField
from rest_api.serializers import ValidatedModelSerializer


class _OfApi(ValidatedModelSerializer):
    def fixed_values(self) -> dict:
        return {"api": self.context["api"]}


class CorsPolicySerializer(_OfApi):
    """Which browser origins may call the API, with which methods and headers."""

    class Meta:
        model = CorsPolicy
        fields = [
            "api",
            "allowed_origins",
            "allowed_methods",
            "allowed_headers",
            "exposed_headers",
            "allow_credentials",
            "max_age_seconds",
        ]
        read_only_fields = ["api"]
        json_fields = {
            "allowed_origins": StringListField,
            "allowed_methods": StringListField,
            "allowed_headers": StringListField,
            "exposed_headers": StringListField,
        }


class ApiClientAddressSerializer(_OfApi):
    """Client addresses (IPv4/IPv6 CIDR) allowed and denied for every call to the API."""

    class Meta:
        model = ClientAddressPolicy
        fields = ["api", "allow", "deny"]
        read_only_fields = ["api"]
        json_fields = {"allow": StringListField, "deny": StringListField}


class ApplicationClientAddressSerializer(ValidatedModelSerializer):
    """Client addresses (IPv4/IPv6 CIDR) allowed and denied for one application's calls."""

    class Meta:
        model = ClientAddressPolicy
        fields = ["application", "allow", "deny"]
        read_only_fields = ["application"]
        json_fields = {"allow": StringListField, "deny": StringListField}

    def fixed_values(self) -> dict:
        return {"application": self.context["application"]}


class RequestLimitsSerializer(_OfApi):
    """Body size, header count and size, and content types a request must meet."""

    class Meta:
        model = RequestLimits
        fields = [
            "api",
            "max_body_bytes",
            "max_header_count",
            "max_header_bytes",
            "allowed_content_types",
        ]
        read_only_fields = ["api"]
        json_fields = {"allowed_content_types": StringListField}


class LoadBalancingSerializer(_OfApi):
    """How calls are spread over the API's targets and how unhealthy ones are found."""

    class Meta:
        model = LoadBalancing
        fields = [
            "api",
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
        read_only_fields = ["api"]


class TransformationSerializer(_OfApi):
    """One change to requests or responses: add, set, rename or remove a header or query
    parameter, with a value from a constant, a claim, the application or a path parameter."""

    class Meta:
        model = Transformation
        fields = [
            "id",
            "api",
            "route",
            "position",
            "target",
            "operation",
            "name",
            "new_name",
            "source",
            "value",
        ]
        read_only_fields = ["api"]


class TargetStateSerializer(serializers.Serializer):
    """The target's health as a data-plane worker last reported it."""

    healthy = serializers.BooleanField()
    reason = serializers.CharField()
    changed_at = serializers.FloatField(help_text="Unix time of the last change.")
    reported_at = serializers.FloatField()
    active_connections = serializers.IntegerField()
    worker = serializers.CharField(help_text="host:pid of the reporting worker.")


class UpstreamTargetSerializer(_OfApi):
    """One backend instance of the API (an origin) with its weight and health."""

    state = serializers.SerializerMethodField()

    class Meta:
        model = UpstreamTarget
        fields = ["id", "api", "url", "weight", "enabled", "state"]
        read_only_fields = ["api", "state"]

    @extend_schema_field(TargetStateSerializer(allow_null=True))
    def get_state(self, target) -> dict | None:
        """null until a worker has called or checked the target."""
        return states([target.id]).get(target.id)
