"""GET /api/v1/analytics/traffic/ and /api/v1/analytics/applications/."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response

from accounts.roles import Action
from analytics import services
from applications.models import Application
from rest_api.analytics.serializers import (
    ApplicationTrafficQuerySerializer,
    ApplicationTrafficSerializer,
    TrafficQuerySerializer,
    TrafficSeriesSerializer,
)
from rest_api.viewsets import AdminAPIMixin


class TrafficView(AdminAPIMixin, generics.GenericAPIView):
    """Requests, errors, error rate and p50/p95 latency over the last hour, day or week."""

    read_action = Action.VIEW_APIS
    pagination_class = None
    filter_backends = []

    @extend_schema(parameters=[TrafficQuerySerializer], responses={200: TrafficSeriesSerializer})
    def get(self, request):
        query = TrafficQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = services.series(
            query.validated_data["window"],
            api_id=query.validated_data.get("api"),
            application_id=query.validated_data.get("application"),
        )
        return Response(TrafficSeriesSerializer(found).data)


class ApplicationTrafficView(AdminAPIMixin, generics.GenericAPIView):
    """Which applications called (one API, or any), how often, and when last."""

    read_action = Action.VIEW_APPLICATIONS
    pagination_class = None
    filter_backends = []

    @extend_schema(
        parameters=[ApplicationTrafficQuerySerializer],
        responses={200: ApplicationTrafficSerializer(many=True)},
    )
    def get(self, request):
        query = ApplicationTrafficQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = services.application_breakdown(
            query.validated_data["window"], api_id=query.validated_data.get("api")
        )
        names = Application.objects.in_bulk([row["application_id"] for row in rows])
        for row in rows:
            found = names.get(row["application_id"])
            row["name"] = found.name if found else None
        return Response(ApplicationTrafficSerializer(rows, many=True).data)
