"""Configuration as code over REST, for CI systems that cannot run manage.py: export,
diff and apply (configfile/).

JSON in and out like the rest of the admin API: the file travels as `document`, its
YAML (or JSON) text, or the document itself as a JSON object. A file that cannot be
applied is a 400 `validation_failed` whose `errors` are keyed by the place of each
problem in the file (`apis[/pets/v1].routes[GET /x].path`), with the line when known.
"""

import json

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Action
from configfile.apply import ApplyConflict, apply, diff
from configfile.export import export_text
from configfile.loading import MAX_BYTES
from configfile.problems import ConfigInvalid
from rest_api.exceptions import Conflict, PayloadTooLarge
from rest_api.viewsets import AdminAPIMixin


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "object"}]})
class FileField(serializers.JSONField):
    """The file's YAML or JSON text, or the document as a JSON object."""


class ConfigFileSerializer(serializers.Serializer):
    document = FileField(help_text="The configuration file: YAML or JSON text, or an object.")


class ExportedFileSerializer(serializers.Serializer):
    document = serializers.CharField(help_text="The configuration as YAML text.")


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class ChangeSerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text="Its key in the file: apis, applications, policy_chains..."
    )
    name = serializers.CharField(help_text="Its name in the file (an API's base path).")
    action = serializers.ChoiceField(choices=["create", "update", "delete"])
    fields = FieldChangeSerializer(many=True)


class PlanSerializer(serializers.Serializer):
    changed = serializers.BooleanField(help_text="False when the gateway matches the file.")
    counts = serializers.DictField(child=serializers.IntegerField())
    changes = ChangeSerializer(many=True)
    kept = serializers.ListField(
        child=serializers.CharField(), help_text="In the gateway, not in the file (no prune)."
    )


class GeneratedSecretSerializer(serializers.Serializer):
    application = serializers.CharField()
    client_id = serializers.CharField()
    client_secret = serializers.CharField(help_text="Shown only in this answer.")


class ApplyResultSerializer(PlanSerializer):
    applied = serializers.BooleanField()
    dry_run = serializers.BooleanField()
    generated_secrets = GeneratedSecretSerializer(many=True)


def _flag(request, name: str) -> bool:
    value = request.query_params.get(name, "false").lower()
    if value not in {"true", "false", "1", "0"}:
        raise ValidationError({name: ["Give true or false."]})
    return value in {"true", "1"}


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


API_PARAMETER = OpenApiParameter(
    "api",
    str,
    many=True,
    description="Only this API (base path or name) and the servers it trusts; repeatable.",
)
PRUNE_PARAMETER = OpenApiParameter(
    "prune", bool, description="Delete what the file no longer names (of the kinds it lists)."
)


class ConfigFileView(AdminAPIMixin, APIView):
    read_action = Action.MANAGE_CONFIG_FILES
    role_actions = {"post": Action.MANAGE_CONFIG_FILES}

    def document(self, request) -> str:
        # Refused before the body is parsed; a JSON string may escape the file to about
        # twice its size.
        if _content_length(request) > 2 * MAX_BYTES + 64 * 1024:
            raise PayloadTooLarge(f"A configuration file is at most {MAX_BYTES} bytes.")
        serializer = ConfigFileSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        document = serializer.validated_data["document"]
        if isinstance(document, str):
            return document
        if isinstance(document, dict):
            return json.dumps(document)
        raise ValidationError({"document": ["Give the file's text, or the document as an object."]})


class ConfigExportView(ConfigFileView):
    @extend_schema(
        parameters=[
            API_PARAMETER,
            OpenApiParameter(
                "secret_hashes", bool, description="Include each client's stored secret hash."
            ),
        ],
        responses={200: ExportedFileSerializer},
    )
    def get(self, request):
        try:
            text = export_text(
                request.query_params.getlist("api") or None,
                secret_hashes=_flag(request, "secret_hashes"),
            )
        except ConfigInvalid as exc:
            raise _invalid(exc) from None
        response = Response({"document": text})
        response["Cache-Control"] = "no-store"
        return response


class ConfigDiffView(ConfigFileView):
    @extend_schema(
        parameters=[API_PARAMETER, PRUNE_PARAMETER],
        request=ConfigFileSerializer,
        responses={200: PlanSerializer},
    )
    def post(self, request):
        try:
            plan = diff(
                self.document(request),
                prune=_flag(request, "prune"),
                api_names=request.query_params.getlist("api") or None,
                local=False,
            )
        except ConfigInvalid as exc:
            raise _invalid(exc) from None
        return Response(plan.as_dict())


class ConfigApplyView(ConfigFileView):
    @extend_schema(
        parameters=[
            API_PARAMETER,
            PRUNE_PARAMETER,
            OpenApiParameter("dry_run", bool, description="Check and plan; change nothing."),
        ],
        request=ConfigFileSerializer,
        responses={200: ApplyResultSerializer},
    )
    def post(self, request):
        try:
            result = apply(
                self.document(request),
                actor=request.user,
                prune=_flag(request, "prune"),
                dry_run=_flag(request, "dry_run"),
                api_names=request.query_params.getlist("api") or None,
                local=False,
            )
        except ConfigInvalid as exc:
            raise _invalid(exc) from None
        except ApplyConflict as exc:
            raise Conflict(str(exc)) from None
        response = Response(result.as_dict())
        response["Cache-Control"] = "no-store"  # generated secrets are shown once
        return response


def _invalid(exc: ConfigInvalid) -> ValidationError:
    """Every problem under its place in the file, as the admin API's field errors."""
    errors: dict[str, list[str]] = {}
    for problem in exc.problems:
        line = f" (line {problem.line})" if problem.line else ""
        errors.setdefault(problem.where or "file", []).append(problem.message + line)
    return ValidationError(errors)
