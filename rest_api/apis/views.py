from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from accounts.roles import Action
from apis import services
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.openapi_import import DocumentTooLarge, import_openapi, max_document_bytes
from apis.services import activate_api, deactivate_api
from rest_api.apis.serializers import (
    ActivationProblemsSerializer,
    ApiSerializer,
    ApiStatusSerializer,
    OpenApiImportResultSerializer,
    OpenApiImportSerializer,
    PolicySerializer,
    RouteSerializer,
)
from rest_api.exceptions import Problem
from rest_api.viewsets import ResourceViewSet


class ActivationRefused(Problem):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "activation_refused"

    def __init__(self, api, problems: list[str]):
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(
            f"{api} cannot be activated yet: fix the {count} listed in `problems`, then "
            "activate it again.",
            problems=problems,
        )


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class ApiViewSet(ResourceViewSet):
    """APIs published through the gateway."""

    queryset = Api.objects.all()
    serializer_class = ApiSerializer
    save_resource = staticmethod(services.save_api)
    delete_resource = staticmethod(services.delete_api)
    filterset_fields = ["name", "status", "kind", "base_path"]
    search_fields = ["name", "base_path", "description"]
    ordering_fields = ["name", "base_path", "status", "created_at", "updated_at"]
    read_action = Action.VIEW_APIS
    role_actions = {
        "create": Action.CREATE_APIS,
        "partial_update": Action.CHANGE_APIS,
        "destroy": Action.DELETE_APIS,
        "activate": Action.ACTIVATE_APIS,
        "deactivate": Action.ACTIVATE_APIS,
        "import_openapi": Action.IMPORT_OPENAPI,
        "policy": {"GET": Action.VIEW_POLICIES, "PUT": Action.SAVE_POLICIES},
    }

    @extend_schema(
        request=None, responses={200: ApiStatusSerializer, 400: ActivationProblemsSerializer}
    )
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        api = self.get_object()
        problems = activate_api(api, request.user)
        if problems:
            raise ActivationRefused(api, problems)
        return Response({"status": "active"})

    @extend_schema(request=None, responses={200: ApiStatusSerializer})
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        deactivate_api(self.get_object(), request.user)
        return Response({"status": "inactive"})

    @extend_schema(request=OpenApiImportSerializer, responses={201: OpenApiImportResultSerializer})
    @action(detail=False, methods=["post"], url_path="import-openapi")
    def import_openapi(self, request):
        # Refused before the body is read or parsed; the document itself is measured
        # by the import (a JSON string body may escape it to about twice its size).
        if _content_length(request) > 2 * max_document_bytes() + 64 * 1024:
            raise DocumentTooLarge(_content_length(request))
        serializer = OpenApiImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = import_openapi(actor=request.user, **serializer.validated_data)
        return Response(OpenApiImportResultSerializer(result).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], request=None, responses={200: PolicySerializer})
    @extend_schema(methods=["PUT"], request=PolicySerializer, responses={200: PolicySerializer})
    @action(detail=True, methods=["get", "put"], serializer_class=PolicySerializer)
    def policy(self, request, pk=None):
        api = self.get_object()
        policy = IdentifyAndAuthorizePolicy.objects.filter(api=api).first()
        if request.method == "GET":
            if policy is None:
                raise NotFound("This API has no policy yet; PUT one.", code="policy_not_found")
            return Response(PolicySerializer(policy, context={"api": api}).data)
        serializer = PolicySerializer(policy, data=request.data, context={"api": api})
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        servers = fields.pop("authorization_servers", None)
        policy = policy or IdentifyAndAuthorizePolicy(api=api)
        for name, value in fields.items():
            setattr(policy, name, value)
        services.save_policy(policy, request.user, authorization_servers=servers)
        return Response(PolicySerializer(policy, context={"api": api}).data)


class RouteViewSet(ResourceViewSet):
    """The routes of one API: /apis/{api_pk}/routes/."""

    serializer_class = RouteSerializer
    save_resource = staticmethod(services.save_route)
    delete_resource = staticmethod(services.delete_route)
    filterset_fields = ["method", "path", "anonymous"]
    ordering_fields = ["path", "method"]
    read_action = Action.VIEW_ROUTES
    role_actions = {
        "create": Action.CREATE_ROUTES,
        "partial_update": Action.CHANGE_ROUTES,
        "destroy": Action.DELETE_ROUTES,
    }

    def get_api(self) -> Api:
        if not hasattr(self, "_api"):
            self._api = get_object_or_404(Api, pk=self.kwargs["api_pk"])
        return self._api

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no URL kwargs
            return Route.objects.none()
        return Route.objects.filter(api=self.get_api())

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["api"] = self.get_api()
        return context

    def save_kwargs(self) -> dict:
        return {"api": self.get_api()}
