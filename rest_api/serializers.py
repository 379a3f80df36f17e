"""The serializer base every admin-API serializer inherits, and the shared ones."""

import copy

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

from apis.choices import CALL_METHODS
from apis.models import Api
from apis.validators import (
    INSPECTED_PATH_MAX_LENGTH,
    INSPECTED_TOKEN_MAX_LENGTH,
    validate_inspected_path,
)
from core.models import AuditEvent
from rest_api.fields import StorableJSONField


def field_errors(exc: DjangoValidationError) -> dict:
    """A model ValidationError as DRF's {field: [messages]}, with __all__ renamed."""
    errors = serializers.as_serializer_error(exc)
    if NON_FIELD_ERRORS in errors:
        errors.setdefault(api_settings.NON_FIELD_ERRORS_KEY, errors.pop(NON_FIELD_ERRORS))
    return errors


class RejectUnknownFieldsMixin:
    """A body member the serializer does not know is a field error, not silently dropped
    (issue 20: a misspelt or unsupported field must not look like it was saved).

    Read-only fields (id, client_id, created_at...) are known and still ignored, so a
    client may send back what it read.
    """

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if isinstance(data, dict):
            unknown = sorted(str(name) for name in data if name not in self.fields)
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown}, code="unknown_field"
                )
        return value


class ValidatedModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer that runs the model's full_clean() on a copy of the instance.

    DRF does not call Model.clean() (encode/django-rest-framework#3144), so without
    this the REST API would skip the rules the console enforces. Values the model
    normalises in clean() (base paths, route templates) are written back, so what
    is saved is what was validated.

    `Meta.json_fields` maps JSON columns to a typed StorableJSONField subclass, and
    `fixed_values()` supplies fields that come from the URL rather than the body.
    """

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        json_fields = getattr(self.Meta, "json_fields", {})
        if field_name in json_fields:
            field_class = json_fields[field_name]
        elif issubclass(field_class, serializers.JSONField):
            field_class = StorableJSONField
        return field_class, kwargs

    def fixed_values(self) -> dict:
        return {}

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        model = self.Meta.model
        many_to_many = {field.name for field in model._meta.many_to_many}
        # A copy: a refused PATCH must leave the instance (and the audit's "before") untouched.
        instance = copy.copy(self.instance) if self.instance is not None else model()
        values = {**self.fixed_values(), **attrs}
        for name, value in values.items():
            if name not in many_to_many:
                setattr(instance, name, value)
        try:
            instance.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(field_errors(exc)) from None
        for name in attrs:
            if name not in many_to_many:  # clean() may have normalised the value
                attrs[name] = getattr(instance, name)
        return attrs


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "additionalProperties": {},
        "description": "The object's fields (secrets left out), as {field: value}; null "
        "before a creation, after a deletion, and for events that change no object.",
    }
)
class SnapshotField(serializers.JSONField):
    pass


class AuditEventSerializer(serializers.ModelSerializer):
    """One configuration change, with the object's fields before and after it."""

    actor = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    before = SnapshotField(read_only=True, allow_null=True)
    after = SnapshotField(read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "actor",
            "actor_name",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "created_at",
        ]
        read_only_fields = fields


class ProblemSerializer(serializers.Serializer):
    """An error, as problem details (RFC 9457) with a stable code and the request id."""

    type = serializers.CharField(help_text="about:blank: `code` names the problem.")
    title = serializers.CharField(help_text="The HTTP status phrase.")
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="What went wrong and what to do about it.")
    code = serializers.CharField(
        help_text="Stable machine-readable code, e.g. not_authenticated, validation_failed."
    )
    request_id = serializers.CharField(help_text="Also sent as the X-Request-Id header.")


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {},
        "description": "{field: [messages]}, nested for list and object fields; "
        "non_field_errors for the rest.",
    }
)
class FieldErrorsField(serializers.JSONField):
    pass


class ValidationProblemSerializer(ProblemSerializer):
    """A problem whose input was invalid (code validation_failed), or unreadable."""

    errors = FieldErrorsField(required=False, help_text="{field: [messages]}.")
    error_codes = FieldErrorsField(
        required=False, help_text="{field: [codes]}, in the shape of `errors`."
    )


class InspectedCallSerializer(serializers.Serializer):
    """The call to inspect: a token, an API, a method and a path under the API."""

    token = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=True,
        max_length=INSPECTED_TOKEN_MAX_LENGTH,
        help_text="The access token, with or without the 'Bearer ' prefix; blank inspects an "
        "anonymous call.",
    )
    api = serializers.PrimaryKeyRelatedField(
        queryset=Api.objects.all(), help_text="Id of the API the call is for."
    )
    method = serializers.ChoiceField(choices=CALL_METHODS)
    path = serializers.CharField(
        max_length=INSPECTED_PATH_MAX_LENGTH,
        validators=[validate_inspected_path],
        help_text="The path after the API's base path, e.g. /pets/42.",
    )


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "additionalProperties": {},
        "description": 'Claim or header name → value, e.g. {"aud": ["petstore"]}.',
    }
)
class FactsField(serializers.JSONField):
    pass


class TraceStepSerializer(serializers.Serializer):
    """One check of the proxy's decision, in the order it was made."""

    check = serializers.CharField()
    ok = serializers.BooleanField()
    detail = serializers.CharField(help_text="What the proxy tells its client.")
    admin_detail = serializers.CharField(
        help_text="The same for admins, saying what was expected and what the token had."
    )
    expected = FactsField(
        allow_null=True,
        help_text="What the API accepts: audiences, trusted issuers, allowed algorithms, "
        "known key ids, required scopes, time bounds. Never sent to proxied clients.",
    )
    actual = FactsField(allow_null=True, help_text="What the token (or call) had.")


class TokenInspectionSerializer(serializers.Serializer):
    """The proxy's decision for the inspected call."""

    allowed = serializers.BooleanField(help_text="True when the proxy would forward the call.")
    status = serializers.IntegerField(help_text="200, or the status of the error the proxy sends.")
    code = serializers.CharField(allow_null=True, help_text="The error code, null when allowed.")
    detail = serializers.CharField()
    gateway_path = serializers.CharField(help_text="The full path the decision was made for.")
    route = serializers.CharField(allow_null=True)
    application = serializers.CharField(allow_null=True)
    admin_detail = serializers.CharField(
        allow_null=True,
        help_text="For a refusal: what was expected versus what the token had; null when allowed.",
    )
    trace = TraceStepSerializer(many=True)
