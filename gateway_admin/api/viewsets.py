"""Bases for the admin-API views: staff only, JSON only, audited writes."""

from django.db import transaction
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters, mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response

from gateway_admin.audit import record_event, snapshot

from .exceptions import exception_handler
from .parsers import JSONParser
from .schema import GatekeepAutoSchema


class SearchFilter(filters.SearchFilter):
    """DRF's search, with a refused term reported as a field error like any other."""

    def get_search_terms(self, request) -> list[str]:
        try:
            return super().get_search_terms(request)
        except ValidationError as exc:  # e.g. a NUL character, which PostgreSQL refuses
            raise ValidationError({self.search_param: exc.detail}) from None


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
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        # As DRF's UpdateModelMixin: prefetched relations may have changed.
        serializer.instance._prefetched_objects_cache = {}
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

    def save_kwargs(self) -> dict:
        """Values the URL decides rather than the body (e.g. the API of a route)."""
        return {}

    def audited_save(self, serializer, **kwargs):
        with transaction.atomic():
            before = snapshot(serializer.instance)
            instance = serializer.save(**kwargs)
            action = "update" if before is not None else "create"
            record_event(self.request.user, action, instance, before, snapshot(instance))
        return instance

    def perform_create(self, serializer) -> None:
        self.audited_save(serializer, **self.save_kwargs())

    def perform_update(self, serializer) -> None:
        self.audited_save(serializer, **self.save_kwargs())

    def perform_destroy(self, instance) -> None:
        with transaction.atomic():
            record_event(self.request.user, "delete", instance, snapshot(instance), None)
            instance.delete()
