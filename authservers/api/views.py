from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from gateway_admin.api.exceptions import Refused
from gateway_admin.api.serializers import ErrorSerializer
from gateway_admin.api.viewsets import AuditedModelViewSet

from ..models import AuthorizationServer
from ..services import refresh_jwks
from .serializers import AuthorizationServerSerializer, JwksRefreshSerializer, RotatedKeySerializer


class AuthorizationServerViewSet(AuditedModelViewSet):
    """Authorization servers (token issuers) APIs may trust."""

    queryset = AuthorizationServer.objects.select_related("jwks_snapshot")
    serializer_class = AuthorizationServerSerializer
    filterset_fields = ["name", "kind", "issuer"]
    search_fields = ["name", "issuer"]
    ordering_fields = ["name", "kind", "issuer", "created_at", "updated_at"]

    @extend_schema(request=None, responses={200: JwksRefreshSerializer})
    @action(detail=True, methods=["post"], url_path="refresh-jwks")
    def refresh_jwks(self, request, pk=None):
        outcome = refresh_jwks(self.get_object())
        return Response({"ok": outcome.ok, "key_ids": outcome.key_ids, "error": outcome.error})

    @extend_schema(request=None, responses={200: RotatedKeySerializer, 400: ErrorSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-key")
    def rotate_key(self, request, pk=None):
        # Imported on use: the signing-key module belongs to the internal issuer.
        from ..signing import SigningKeyError, rotate_signing_key

        try:
            key = rotate_signing_key(self.get_object(), request.user)
        except SigningKeyError as exc:  # e.g. an external server, which has no signing keys
            raise Refused(str(exc)) from None
        return Response({"kid": key.kid, "alg": key.alg, "state": key.state})
