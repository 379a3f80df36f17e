from django.contrib import admin, messages

from accounts.admin import RoleAdminMixin
from accounts.roles import Action
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.services import activate_api, deactivate_api
from core.audit import record_event, snapshot

ROUTE_ACTIONS = {
    "view": Action.VIEW_ROUTES,
    "add": Action.CREATE_ROUTES,
    "change": Action.CHANGE_ROUTES,
    "delete": Action.DELETE_ROUTES,
}


class RouteInline(RoleAdminMixin, admin.TabularInline):
    model = Route
    extra = 1
    role_actions = ROUTE_ACTIONS


class PolicyInline(RoleAdminMixin, admin.StackedInline):
    model = IdentifyAndAuthorizePolicy
    filter_horizontal = ("authorization_servers",)
    can_delete = False
    role_actions = {
        "view": Action.VIEW_POLICIES,
        "add": Action.SAVE_POLICIES,
        "change": Action.SAVE_POLICIES,
    }


@admin.register(Api)
class ApiAdmin(RoleAdminMixin, admin.ModelAdmin):
    list_display = ("name", "version", "base_path", "upstream_url", "kind", "status")
    list_filter = ("status", "kind")
    search_fields = ("name", "base_path", "upstream_url")
    readonly_fields = ("status",)
    inlines = [RouteInline, PolicyInline]
    actions = ["activate", "deactivate"]
    role_actions = {
        "view": Action.VIEW_APIS,
        "add": Action.CREATE_APIS,
        "change": Action.CHANGE_APIS,
        "delete": Action.DELETE_APIS,
        "activate": Action.ACTIVATE_APIS,
    }

    def has_activate_permission(self, request) -> bool:
        return self.role_allows(request, "activate")

    def save_model(self, request, obj, form, change) -> None:
        before = snapshot(Api.objects.filter(pk=obj.pk).first()) if change else None
        super().save_model(request, obj, form, change)
        record_event(request.user, "update" if change else "create", obj, before, snapshot(obj))

    def delete_model(self, request, obj) -> None:
        record_event(request.user, "delete", obj, snapshot(obj), None)
        super().delete_model(request, obj)

    @admin.action(description="Activate selected APIs", permissions=["activate"])
    def activate(self, request, queryset) -> None:
        for api in queryset:
            problems = activate_api(api, actor=request.user)
            if problems:
                self.message_user(
                    request, f"{api} not activated: {' '.join(problems)}", messages.ERROR
                )
            else:
                self.message_user(request, f"{api} is active.", messages.SUCCESS)

    @admin.action(description="Deactivate selected APIs", permissions=["activate"])
    def deactivate(self, request, queryset) -> None:
        for api in queryset:
            deactivate_api(api, actor=request.user)
        self.message_user(request, "Deactivated.", messages.SUCCESS)


@admin.register(Route)
class RouteAdmin(RoleAdminMixin, admin.ModelAdmin):
    role_actions = ROUTE_ACTIONS
    list_display = ("api", "method", "path", "required_scopes", "anonymous")
    list_filter = ("method", "anonymous")
    search_fields = ("path", "api__name")
