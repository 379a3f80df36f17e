"""Bases for the admin-API views: staff only, JSON only, audited writes."""

from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters, mixins, viewsets
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from gateway_admin.audit import record_event, snapshot

from .exceptions import exception_handler
from .schema import GatekeepAutoSchema


class SearchFilter(filters.SearchFilter):
    """DRF's search, minus NUL characters (PostgreSQL refuses them in a query)."""

    def get_search_terms(self, request) -> list[str]:
        terms = (term.replace("\x00", "") for term in super().get_search_terms(request))
        return [term for term in terms if term]


class AdminAPIMixin:
    """What every admin-API view shares; the settings say the same, this makes it explicit."""

    permission_classes = [IsAdminUser]
    parser_classes = [JSONParser]
    filter_backends = [DjangoFilterBackend, SearchFilter, filters.OrderingFilter]
    schema = GatekeepAutoSchema()

    def get_exception_handler(self):
        return exception_handler


class PartialUpdateModelMixin:
    """PATCH only: the contract (DESIGN.md §5) has no PUT on resources."""

    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(serializer.data)


class AuditedModelViewSet(
    AdminAPIMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    PartialUpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """CRUD where every write records an AuditEvent in the same transaction.

    Viewsets whose writes go through a service that audits by itself override the
    perform_* hooks and call the service instead.
    """

    lookup_value_regex = "[0-9]+"

    def perform_create(self, serializer) -> None:
        with transaction.atomic():
            instance = serializer.save()
            record_event(self.request.user, "create", instance, None, snapshot(instance))

    def perform_update(self, serializer) -> None:
        with transaction.atomic():
            before = snapshot(serializer.instance)
            instance = serializer.save()
            record_event(self.request.user, "update", instance, before, snapshot(instance))

    def perform_destroy(self, instance) -> None:
        with transaction.atomic():
            record_event(self.request.user, "delete", instance, snapshot(instance), None)
            instance.delete()
