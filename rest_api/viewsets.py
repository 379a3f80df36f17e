"""Bases for the admin-API views: staff only, allowed by role, JSON only, audited writes."""

from collections.abc import Callable

from django.db.models import Model
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters, mixins, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAdminUser
from rest_framework.response import Response

from accounts import roles
from rest_api.exceptions import RoleRequired, exception_handler
from rest_api.filters import OrderingFilter
from rest_api.pagination import AdminPagination
from rest_api.parsers import JSONParser
from rest_api.schema import GatekeepAutoSchema


class SearchFilter(filters.SearchFilter):
    """DRF's search, with a refused term reported as a field error like any other."""

    def get_search_terms(self, request) -> list[str]:
        try:
            return super().get_search_terms(request)
        except ValidationError as exc:  # e.g. a NUL character, which PostgreSQL refuses
            raise ValidationError({self.search_param: exc.detail}) from None


# DRF action names (and, for plain views, handler names) that only read.
READ_NAMES = frozenset({"list", "retrieve", "metadata", "options", "get", "head"})


class RolePermission(BasePermission):
    """Staff only (401/403 as IsAdminUser), then the role must allow the view's action.

    The view names its action (AdminAPIMixin.role_action); a request the view names
    no action for is refused, so a new endpoint is closed until someone decides.
    """

    def has_permission(self, request, view) -> bool:
        if not IsAdminUser().has_permission(request, view):
            return False
        action = view.role_action(request)
        if action is None:
            # Nothing handles this method (the view answers 405), or nobody mapped it.
            return not _handles(view, request)
        if not roles.can(request.user, action):
            raise RoleRequired(roles.refusal(request.user, action))
        return True


def _handles(view, request) -> bool:
    action_map = getattr(view, "action_map", None)
    if action_map is not None:
        return request.method.lower() in action_map
    return hasattr(view, request.method.lower())


class AdminAPIMixin:
    """What every admin-API view shares: staff and role checks, JSON, the error handler,
    validated paging and ordering.

    `read_action` is the roles.Action of reading (list, retrieve, OPTIONS);
    `role_actions` maps every other DRF action (or, on plain views, handler name)
    to its Action, or to {HTTP method: Action} for actions with several methods.
    """

    permission_classes = [RolePermission]
    parser_classes = [JSONParser]
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    pagination_class = AdminPagination
    schema = GatekeepAutoSchema()
    read_action: roles.Action | None = None
    role_actions: dict = {}

    def get_exception_handler(self):
        return exception_handler

    def role_action(self, request) -> roles.Action | None:
        name = getattr(self, "action", None) or request.method.lower()
        action = self.role_actions.get(name)
        if action is None and name in READ_NAMES:
            return self.read_action
        if isinstance(action, dict):
            return action.get(request.method)
        return action


class PartialUpdateModelMixin:
    """PATCH only: the contract (docs/architecture.md, REST admin API) has no PUT on resources."""

    def partial_update(self, request, *args, **kwargs):
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        # As DRF's UpdateModelMixin: prefetched relations may have changed.
        serializer.instance._prefetched_objects_cache = {}
        return Response(serializer.data)


class ResourceViewSet(
    AdminAPIMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    PartialUpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """CRUD whose writes go through the resource's services (core/changes.py).

    The serializer validates and reports field errors; the service it names in
    `save_resource` / `delete_resource` validates again, writes, audits and moves
    the config version, exactly as for the console and the Django admin.
    """

    lookup_value_regex = "[0-9]+"
    # Each resource names its actions: {"create": ..., "partial_update": ..., "destroy": ...}.
    role_actions: dict = {}
    # The resource's services, as staticmethods: save(instance, actor, **many_to_many)
    # and delete(instance, actor).
    save_resource: Callable[..., Model]
    delete_resource: Callable[..., None]

    def save_kwargs(self) -> dict:
        """Values the URL decides rather than the body (e.g. the API of a route)."""
        return {}

    def write(self, serializer, instance: Model) -> Model:
        """Apply the validated values to `instance` and save it through the service."""
        many_to_many = {field.name for field in instance._meta.many_to_many}
        related = {}
        for name, value in {**serializer.validated_data, **self.save_kwargs()}.items():
            if name in many_to_many:
                related[name] = value
            else:
                setattr(instance, name, value)
        serializer.instance = self.save_resource(instance, self.request.user, **related)
        return serializer.instance

    def perform_create(self, serializer) -> None:
        self.write(serializer, serializer.Meta.model())

    def perform_update(self, serializer) -> None:
        self.write(serializer, serializer.instance)

    def perform_destroy(self, instance) -> None:
        self.delete_resource(instance, self.request.user)
