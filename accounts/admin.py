from django.contrib import admin

from accounts import roles
from core.models import AuditEvent


class RoleAdminMixin:
    """Django admin permissions from accounts/roles.py, as the console and REST API ask.

    `role_actions` maps Django's admin verbs (view, add, change, delete, and any
    action's allowed_permissions name) to a roles.Action; an unmapped verb is refused.
    """

    role_actions: dict[str, roles.Action] = {}

    def role_allows(self, request, verb: str) -> bool:
        action = self.role_actions.get(verb)
        return action is not None and roles.can(request.user, action)

    def has_view_permission(self, request, obj=None) -> bool:
        return self.role_allows(request, "view") or self.has_change_permission(request, obj)

    def has_add_permission(self, request, *args) -> bool:
        return self.role_allows(request, "add")

    def has_change_permission(self, request, obj=None) -> bool:
        return self.role_allows(request, "change")

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.role_allows(request, "delete")


@admin.register(AuditEvent)
class AuditEventAdmin(RoleAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor_name", "action", "object_type", "object_repr")
    list_filter = ("action", "object_type")
    search_fields = ("actor_name", "object_repr")
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
    # Read-only for everyone, superusers included: the trail is only ever appended to.
    role_actions = {"view": roles.Action.VIEW_AUDIT}
