from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.fields import BooleanField
from rest_framework.response import Response

from accounts.roles import Action
from apis.services import ServerInUse, delete_server
from authservers import services
from authservers.keysets import refresh_jwks
from authservers.models import AuthorizationServer
from authservers.signing import (
    RotationTooSoon,
    SigningKeyError,
    revoke_signing_key,
    rotate_signing_key,
)
from rest_api.authservers.serializers import (
    AuthorizationServerSerializer,
    JwksFetchProblemSerializer,
    JwksRefreshSerializer,
    RevokedKeySerializer,
    RevokeKeySerializer,
    RotatedKeySerializer,
    RotationTooSoonProblemSerializer,
    ServerInUseProblemSerializer,
)
from rest_api.exceptions import Conflict, Problem, Refused
from rest_api.serializers import ProblemSerializer
from rest_api.viewsets import ResourceViewSet


class JwksFetchFailed(Problem):
    """The issuer's keys could not be fetched; the last good keys (if any) still serve."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "jwks_fetch_failed"


class RotationTooSoonProblem(Conflict):
    """The next key has not been published for the JWKS cache lifetime yet; retry later."""

    default_code = "rotation_too_soon"

    def __init__(self, exc: RotationTooSoon):
        super().__init__(
            str(exc),
            code=self.default_code,
            retry_after_seconds=exc.retry_after,
            kid=exc.kid,
            signs_from=exc.safe_at.isoformat().replace("+00:00", "Z"),
        )
        self.wait = exc.retry_after  # rendered as the Retry-After header


class AuthorizationServerViewSet(ResourceViewSet):
    """Authorization servers (token issuers) APIs may trust."""

    queryset = AuthorizationServer.objects.select_related("jwks_snapshot")
    serializer_class = AuthorizationServerSerializer
    save_resource = staticmethod(services.save_server)
    delete_resource = staticmethod(delete_server)
    filterset_fields = ["name", "kind", "issuer"]
    search_fields = ["name", "issuer"]
    ordering_fields = ["name", "kind", "issuer", "created_at", "updated_at"]
    read_action = Action.VIEW_SERVERS
    role_actions = {
        "create": Action.CREATE_SERVERS,
        "partial_update": Action.CHANGE_SERVERS,
        "destroy": Action.DELETE_SERVERS,
        "refresh_jwks": Action.REFRESH_KEYS,
        "rotate_key": Action.ROTATE_SIGNING_KEYS,
        "revoke_key": Action.REVOKE_SIGNING_KEYS,
    }

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "deactivate_apis",
                bool,
                description="Also deactivate the active APIs that trust the server (audited); "
                "without it, deleting a server active APIs trust is refused with 409.",
            )
        ],
        responses={204: None, 409: ServerInUseProblemSerializer},
    )
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance) -> None:
        flag = BooleanField().to_internal_value(
            self.request.query_params.get("deactivate_apis", "false")
        )
        try:
            delete_server(instance, self.request.user, deactivate_apis=flag)
        except ServerInUse as exc:
            raise Conflict(
                str(exc),
                code="server_in_use",
                apis=[{"id": api.pk, "name": str(api)} for api in exc.apis],
            ) from None

    @extend_schema(
        request=None, responses={200: JwksRefreshSerializer, 502: JwksFetchProblemSerializer}
    )
    @action(detail=True, methods=["post"], url_path="refresh-jwks")
    def refresh_jwks(self, request, pk=None):
        server = self.get_object()
        outcome = refresh_jwks(server)
        if not outcome.ok:
            kept = (
                f"the last good keys ({', '.join(outcome.key_ids)}) keep serving"
                if outcome.key_ids
                else "no keys were ever fetched, so its tokens cannot be verified"
            )
            raise JwksFetchFailed(
                f"The keys of {server} could not be fetched: {outcome.error} Meanwhile {kept}. "
                "Check the issuer's URLs and reachability from the gateway, then retry.",
                last_error=outcome.error,
                key_ids=outcome.key_ids,
            )
        return Response({"ok": outcome.ok, "key_ids": outcome.key_ids, "error": outcome.error})

    @extend_schema(
        request=None,
        responses={
            200: RotatedKeySerializer,
            400: ProblemSerializer,
            409: RotationTooSoonProblemSerializer,
        },
    )
    @action(detail=True, methods=["post"], url_path="rotate-key")
    def rotate_key(self, request, pk=None):
        """Let the published next key sign; 409 rotation_too_soon while it was published
        less than the JWKS cache lifetime ago (retry after Retry-After seconds)."""
        try:
            key = rotate_signing_key(self.get_object(), request.user)
        except RotationTooSoon as exc:
            raise RotationTooSoonProblem(exc) from None
        except SigningKeyError as exc:  # e.g. an external server, which has no signing keys
            raise Refused(str(exc), code="rotation_refused") from None
        return Response({"kid": key.kid, "alg": key.alg, "state": key.state})

    @extend_schema(
        request=RevokeKeySerializer, responses={200: RevokedKeySerializer, 400: ProblemSerializer}
    )
    @action(detail=True, methods=["post"], url_path="revoke-key")
    def revoke_key(self, request, pk=None):
        """Emergency: withdraw a signing key from the JWKS and the gateway at once."""
        serializer = RevokeKeySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            revocation = revoke_signing_key(
                self.get_object(), actor=request.user, **serializer.validated_data
            )
        except SigningKeyError as exc:  # external server, unknown or already revoked kid
            raise Refused(str(exc)) from None
        return Response(
            {
                "revoked_kid": revocation.kid,
                "previous_state": revocation.previous_state,
                "active_kid": revocation.active.kid if revocation.active else None,
                "published_kids": revocation.published,
            }
        )
