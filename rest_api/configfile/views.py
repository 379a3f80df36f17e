"""Configuration as code over REST, for CI systems that cannot run manage.py: export,
diff and apply (configfile/). The body of diff and apply is the YAML (or JSON) file."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Action
from configfile.apply import ApplyConflict, apply, diff
from configfile.export import export_text
from configfile.loading import MAX_BYTES
from configfile.problems import ConfigInvalid
from rest_api.exceptions import Conflict, PayloadTooLarge, Problem
from rest_api.viewsets import AdminAPIMixin

YAML_TYPE = "application/yaml"


class ConfigFileParser(parsers.BaseParser):
    """The body as bytes, read up to the file size limit; configfile/loading.py parses it."""

    media_type = YAML_TYPE

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        data = stream.read(MAX_BYTES + 1) if stream is not None else b""
        if len(data) > MAX_BYTES:
            raise PayloadTooLarge(f"A configuration file is at most {MAX_BYTES} bytes.")
        return data


class TextYamlParser(ConfigFileParser):
    media_type = "text/yaml"


class JsonFileParser(ConfigFileParser):
    media_type = "application/json"


class ConfigFileInvalid(Problem):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "config_invalid"


class ProblemItemSerializer(serializers.Serializer):
    where = serializers.CharField(
        help_text="The resource and field: apis[/pets/v1].routes[GET /x]."
    )
    line = serializers.IntegerField(allow_null=True)
    message = serializers.CharField()


class ConfigInvalidSerializer(serializers.Serializer):
    """The file cannot be applied (code config_invalid); nothing was changed. `problems`
    lists every problem with its place in the file."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    request_id = serializers.CharField()
    problems = ProblemItemSerializer(many=True)


class FieldChangeSerializer(serializers.Serializer):
    field = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class ChangeSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="authorization_servers, apis or applications.")
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
        raise ParseError(f"{name} must be true or false.")
    return value in {"true", "1"}


API_PARAMETER = OpenApiParameter(
    "api",
    str,
    many=True,
    description="Only this API (base path or name) and the servers it trusts; repeat for several.",
)
PRUNE_PARAMETER = OpenApiParameter(
    "prune", bool, description="Delete what the file no longer names (kinds it lists)."
)
FILE_BODY = {YAML_TYPE: {"type": "string", "description": "The configuration file."}}


class ConfigFileView(AdminAPIMixin, APIView):
    parser_classes = [ConfigFileParser, TextYamlParser, JsonFileParser]
    read_action = Action.MANAGE_CONFIG_FILES
    role_actions = {"post": Action.MANAGE_CONFIG_FILES}

    def body(self, request) -> bytes:
        data = request.data
        return data if isinstance(data, bytes) else b""


class ConfigExportView(ConfigFileView):
    @extend_schema(
        parameters=[
            API_PARAMETER,
            OpenApiParameter(
                "secret_hashes", bool, description="Include each client's stored secret hash."
            ),
        ],
        responses={(200, YAML_TYPE): OpenApiTypes.STR},
    )
    def get(self, request):
        try:
            text = export_text(
                request.query_params.getlist("api") or None,
                secret_hashes=_flag(request, "secret_hashes"),
            )
        except ConfigInvalid as exc:
            raise _invalid(exc) from None
        response = HttpResponse(text, content_type=f"{YAML_TYPE}; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response


class ConfigDiffView(ConfigFileView):
    @extend_schema(
        parameters=[API_PARAMETER, PRUNE_PARAMETER],
        request=FILE_BODY,
        responses={200: PlanSerializer, 400: ConfigInvalidSerializer},
    )
    def post(self, request):
        try:
            plan = diff(
                self.body(request),
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
        request=FILE_BODY,
        responses={200: ApplyResultSerializer, 400: ConfigInvalidSerializer},
    )
    def post(self, request):
        try:
            result = apply(
                self.body(request),
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


def _invalid(exc: ConfigInvalid) -> ConfigFileInvalid:
    return ConfigFileInvalid(
        f"{exc} See `problems`.", problems=[problem.as_dict() for problem in exc.problems]
    )
