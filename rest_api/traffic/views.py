"""Traffic limits in the admin API: /limit-policies/, /application-limits/ and an
application's usage, /applications/{id}/usage/."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response

from accounts.roles import Action
from applications.models import Application
from rest_api.traffic import operations  # noqa: F401 - their OPERATIONS entries
from rest_api.traffic.serializers import (
    ApplicationLimitSerializer,
    ApplicationUsageSerializer,
    LimitPolicySerializer,
)
from rest_api.viewsets import AdminAPIMixin, ResourceViewSet
from traffic import services
from traffic.models import ApplicationLimit, LimitPolicy
from traffic.usage import application_usage


class LimitPolicyViewSet(ResourceViewSet):
    """Each API's traffic limits; changed like its access policy, by administrators."""

    queryset = LimitPolicy.objects.select_related("api")
    serializer_class = LimitPolicySerializer
    save_resource = staticmethod(services.save_limit_policy)
    delete_resource = staticmethod(services.delete_limit_policy)
    filterset_fields = ["api", "when_redis_down"]
    ordering_fields = ["api", "updated_at"]
    read_action = Action.VIEW_POLICIES
    role_actions = {
        "create": Action.SAVE_POLICIES,
        "partial_update": Action.SAVE_POLICIES,
        "destroy": Action.SAVE_POLICIES,
    }


class ApplicationLimitViewSet(ResourceViewSet):
    """Applications' own limits; managed by whoever manages applications (operators)."""

    queryset = ApplicationLimit.objects.select_related("application", "api")
    serializer_class = ApplicationLimitSerializer
    save_resource = staticmethod(services.save_application_limit)
    delete_resource = staticmethod(services.delete_application_limit)
    filterset_fields = ["application", "api"]
    ordering_fields = ["application", "api", "updated_at"]
    read_action = Action.VIEW_APPLICATIONS
    role_actions = {
        "create": Action.CHANGE_APPLICATIONS,
        "partial_update": Action.CHANGE_APPLICATIONS,
        "destroy": Action.CHANGE_APPLICATIONS,
    }


class ApplicationUsageView(AdminAPIMixin, generics.GenericAPIView):
    """How much of its limits an application has used, per API."""

    serializer_class = ApplicationUsageSerializer
    read_action = Action.VIEW_APPLICATIONS
    pagination_class = None
    filter_backends: list = []

    @extend_schema(responses={200: ApplicationUsageSerializer})
    def get(self, request, pk: int):
        application = get_object_or_404(Application, pk=pk)
        usage = application_usage(application)
        return Response(ApplicationUsageSerializer(usage).data)
