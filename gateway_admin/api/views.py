"""Cross-app admin-API views: the audit trail and the token inspector."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import generics, viewsets
from rest_framework.response import Response

from apis.services import inspect_token
from gateway_admin.models import AuditEvent
from gateway_admin.roles import Action

from .serializers import (
    AuditEventSerializer,
    InspectedCallSerializer,
    TokenInspectionSerializer,
)
from .viewsets import AdminAPIMixin


@csrf_exempt  # it changes nothing, and a CSRF page would not be JSON
def not_found(request, *args, **kwargs) -> JsonResponse:
    return JsonResponse({"detail": "Not found."}, status=404)


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
    """What the proxy would decide for this token and call, with every check it makes."""

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
