from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apis.choices import ApiStatus
from apis.fields import API_FIELDS, POLICY_FIELDS, ROUTE_FIELDS
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from authservers.models import AuthorizationServer
from rest_api.fields import StorableJSONField, StringListField, StringMapField
from rest_api.serializers import ProblemSerializer, ValidatedModelSerializer


class ApiSerializer(ValidatedModelSerializer):
    """An API published under a base path; only active APIs are served."""

    class Meta:
        model = Api
        fields = ["id", *API_FIELDS, "status", "created_at", "updated_at"]
        read_only_fields = ["status", "created_at", "updated_at"]
        # Api.clean() checks uniqueness on the normalised path, with a message that names
        # the API already there; DRF's UniqueValidator would answer first, and vaguely.
        extra_kwargs = {"base_path": {"validators": []}}


class RouteSerializer(ValidatedModelSerializer):
    """One method + path template of an API; its scopes add to the policy's."""

    class Meta:
        model = Route
        fields = ["id", "api", *ROUTE_FIELDS]
        read_only_fields = ["api"]
        json_fields = {"required_scopes": StringListField}

    def fixed_values(self) -> dict:
        # The API comes from the URL (/apis/{id}/routes/), so the unique check sees it.
        return {"api": self.context["api"]}


class PolicySerializer(ValidatedModelSerializer):
    """The "Identify and authorize application" policy of an API."""

    authorization_servers = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=AuthorizationServer.objects.all(),
        help_text="Ids of the authorization servers whose tokens this API trusts.",
    )

    class Meta:
        model = IdentifyAndAuthorizePolicy
        fields = ["api", *POLICY_FIELDS]
        read_only_fields = ["api"]
        json_fields = {
            "audiences": StringListField,
            "required_scopes": StringListField,
            "forward_claims": StringMapField,
        }

    def fixed_values(self) -> dict:
        return {"api": self.context["api"]}


class ApiStatusSerializer(serializers.Serializer):
    """The status of the API after the call."""

    status = serializers.ChoiceField(choices=ApiStatus.choices)


class ActivationProblemsSerializer(ProblemSerializer):
    """Why the API cannot be activated (code activation_refused); fix each and retry."""

    problems = serializers.ListField(child=serializers.CharField())


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "object"}]})
class DocumentField(StorableJSONField):
    """JSON/YAML text, or the document as a JSON object."""

    max_depth = 200  # schemas nest deeper than configuration values do


class OpenApiImportSerializer(serializers.Serializer):
    """An OpenAPI document to import, with optional overrides of what it says."""

    document = DocumentField(
        help_text="The OpenAPI 3.x or Swagger 2.0 document: JSON or YAML text, or a JSON object."
    )
    name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    version = serializers.CharField(required=False, allow_blank=True, max_length=50)
    base_path = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=300,
        help_text="Defaults to /<title>/<version> from the document.",
    )
    upstream_url = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Defaults to servers[0] (OpenAPI 3) or schemes+host+basePath (Swagger 2).",
    )

    def validate_document(self, value):
        if not isinstance(value, str | dict):
            raise serializers.ValidationError("Give the document as text or as a JSON object.")
        return value


class OpenApiImportResultSerializer(serializers.Serializer):
    """The new (inactive) API, its routes, and what the import could not map exactly."""

    api = ApiSerializer()
    routes = RouteSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())
