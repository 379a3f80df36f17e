"""The policy chain in the Django admin: each policy type on its own page, written
through policies/services.py like the REST API and the console."""

from django.contrib import admin

from accounts.roles import Action
from admin_site.access import RoleAdminMixin
from admin_site.writes import ServiceAdminMixin
from policies import services
from policies.models import (
    ClientAddressPolicy,
    CorsPolicy,
    LoadBalancing,
    RequestLimits,
    Transformation,
    UpstreamTarget,
)
from policies.target_state import states

POLICY_ACTIONS = {
    "view": Action.VIEW_POLICIES,
    "add": Action.SAVE_POLICIES,
    "change": Action.SAVE_POLICIES,
    "delete": Action.SAVE_POLICIES,
}


class PolicyAdmin(ServiceAdminMixin, RoleAdminMixin, admin.ModelAdmin):
    role_actions = POLICY_ACTIONS
    save_resource = staticmethod(services.save_policy)
    delete_resource = staticmethod(services.delete_policy)
    list_filter = ("api",)


admin.site.register(CorsPolicy, PolicyAdmin, list_display=("api", "allowed_origins"))
admin.site.register(
    ClientAddressPolicy,
    PolicyAdmin,
    list_display=("api", "application", "allow", "deny"),
    list_filter=(),
)
admin.site.register(RequestLimits, PolicyAdmin, list_display=("api", "max_body_bytes"))
admin.site.register(
    Transformation,
    PolicyAdmin,
    list_display=("api", "route", "position", "target", "operation", "name"),
)
admin.site.register(LoadBalancing, PolicyAdmin, list_display=("api", "algorithm"))


@admin.register(UpstreamTarget)
class UpstreamTargetAdmin(PolicyAdmin):
    list_display = ("api", "url", "weight", "enabled", "health")

    @admin.display(description="health (last report)")
    def health(self, target) -> str:
        found = states([target.id]).get(target.id)
        if found is None:
            return "not reported yet"
        return ("in rotation" if found["healthy"] else "out of rotation") + f": {found['reason']}"
