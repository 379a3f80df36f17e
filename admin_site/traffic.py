from django.contrib import admin

from accounts.roles import Action
from admin_site.access import RoleAdminMixin
from admin_site.writes import ServiceAdminMixin
from traffic import services
from traffic.models import ApplicationLimit, LimitPolicy


@admin.register(LimitPolicy)
class LimitPolicyAdmin(ServiceAdminMixin, RoleAdminMixin, admin.ModelAdmin):
    list_display = ("api", "rate", "period", "burst", "quota_per_day", "quota_per_month")
    list_filter = ("when_redis_down",)
    save_resource = staticmethod(services.save_limit_policy)
    delete_resource = staticmethod(services.delete_limit_policy)
    # Changed by whoever changes access policies (administrators).
    role_actions = {
        "view": Action.VIEW_POLICIES,
        "add": Action.SAVE_POLICIES,
        "change": Action.SAVE_POLICIES,
        "delete": Action.SAVE_POLICIES,
    }


@admin.register(ApplicationLimit)
class ApplicationLimitAdmin(ServiceAdminMixin, RoleAdminMixin, admin.ModelAdmin):
    list_display = ("application", "api", "rate", "period", "quota_per_day", "quota_per_month")
    list_select_related = ("application", "api")
    save_resource = staticmethod(services.save_application_limit)
    delete_resource = staticmethod(services.delete_application_limit)
    # Managed by whoever manages applications (operators).
    role_actions = {
        "view": Action.VIEW_APPLICATIONS,
        "add": Action.CHANGE_APPLICATIONS,
        "change": Action.CHANGE_APPLICATIONS,
        "delete": Action.CHANGE_APPLICATIONS,
    }
