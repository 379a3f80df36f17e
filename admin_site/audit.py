"""The audit trail in the Django admin: read-only for everyone."""

from django.contrib import admin

from accounts import roles
from admin_site.access import RoleAdminMixin
from core.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(RoleAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor_name", "action", "object_type", "object_repr")
    list_filter = ("action", "object_type")
    search_fields = ("actor_name", "object_repr")
    readonly_fields = [field.name for field in AuditEvent._meta.fields]
    # Read-only for everyone, superusers included: the trail is only ever appended to.
    role_actions = {"view": roles.Action.VIEW_AUDIT}
