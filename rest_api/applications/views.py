from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.roles import Action
from applications.models import Application
from applications.services import (
    create_application,
    delete_application,
    rotate_secret,
    update_application,
)
from core.http import never_store
from rest_api.applications.filters import ApplicationFilter
from rest_api.applications.serializers import (
    ApplicationCreatedSerializer,
    ApplicationSerializer,
    ClientSecretSerializer,
)
from rest_api.viewsets import ResourceViewSet


class ApplicationViewSet(ResourceViewSet):
    """Applications (gateway clients) and their OAuth2 credentials."""

    # Their services write the audit events and manage the OAuth2 client.

    queryset = Application.objects.select_related("oauth_client").prefetch_related("apis")
    serializer_class = ApplicationSerializer
    filterset_class = ApplicationFilter
    search_fields = ["name", "description"]
    ordering_fields = ["name", "status", "created_at", "updated_at"]
    read_action = Action.VIEW_APPLICATIONS
    role_actions = {
        "create": Action.CREATE_APPLICATIONS,
        "partial_update": Action.CHANGE_APPLICATIONS,
        "destroy": Action.DELETE_APPLICATIONS,
        "rotate_secret": Action.ROTATE_APPLICATION_SECRETS,
    }

    def get_serializer_class(self):
        return (
            ApplicationCreatedSerializer
            if self.action == "create"
            else super().get_serializer_class()
        )

    def create(self, request, *args, **kwargs):
        # The only response that carries the new client secret: never cached anywhere.
        return never_store(super().create(request, *args, **kwargs))

    def perform_create(self, serializer) -> None:
        fields = dict(serializer.validated_data)
        application, secret = create_application(self.request.user, **fields)
        application.client_secret = secret  # read by ApplicationCreatedSerializer, never stored
        serializer.instance = application

    def perform_update(self, serializer) -> None:
        serializer.instance = update_application(
            serializer.instance, self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance) -> None:
        delete_application(instance, self.request.user)

    @extend_schema(request=None, responses={200: ClientSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        application = self.get_object()
        secret = rotate_secret(application, request.user)
        return never_store(Response({"client_id": application.client_id, "client_secret": secret}))
