"""Cross-app admin-API views: the audit trail, the token inspector, the schema and docs."""

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import generics, viewsets
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from accounts.roles import Action
from core.models import AuditEvent
from proxy.inspector import inspect_token
from rest_api.exceptions import exception_handler, problem_response
from rest_api.serializers import (
    AuditEventSerializer,
    InspectedCallSerializer,
    TokenInspectionSerializer,
)
from rest_api.viewsets import AdminAPIMixin


@csrf_exempt  # it changes nothing, and a CSRF page would not be JSON
def not_found(request, *args, **kwargs) -> HttpResponse:
    return problem_response(
        request,
        404,
        "not_found",
        f"There is no admin-API endpoint at {request.path[:200]}. The endpoints are listed "
        "at /api/v1/ and documented at /api/v1/docs/.",
    )


class SchemaView(SpectacularAPIView):
    """The OpenAPI document: staff only, as it maps the whole control plane."""

    permission_classes = [IsAdminUser]

    def get_exception_handler(self):
        return exception_handler


class DocsView(SpectacularSwaggerView):
    """Swagger UI over the schema (served from drf-spectacular-sidecar): staff only."""

    permission_classes = [IsAdminUser]

    def get_exception_handler(self):
        return exception_handler


class AuditEventViewSet(AdminAPIMixin, viewsets.ReadOnlyModelViewSet):
    """Every configuration change, newest first (read-only)."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    filterset_fields = ["action", "object_type", "object_id", "actor_name"]
    search_fields = ["object_repr", "actor_name"]
    ordering_fields = ["created_at", "id"]
    lookup_value_regex = "[0-9]+"
    read_action = Action.VIEW_AUDIT


class TokenInspectorView(AdminAPIMixin, generics.GenericAPIView):
    """What the proxy would decide for this token and call, with every check it makes.

    Each step of the trace says what was expected and what the token had (audiences,
    issuers, times, algorithms, key ids, scopes): details the proxy never tells its
    own clients.
    """

    serializer_class = InspectedCallSerializer
    # It changes nothing: a viewer's tool.
    read_action = Action.INSPECT_TOKENS
    role_actions = {"post": Action.INSPECT_TOKENS}

    @extend_schema(responses={200: TokenInspectionSerializer})
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        inspection = inspect_token(**serializer.validated_data)
        return Response(TokenInspectionSerializer(inspection).data)
