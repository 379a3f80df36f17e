from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from accounts.roles import Action
from admin_site.access import RoleAdminMixin
from admin_site.writes import ServiceAdminMixin
from apis import services
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.services import activate_api, deactivate_api

# An API with more routes shows a link to them instead of one inline form per route.
ROUTE_INLINE_MAX = 50

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
class ApiAdmin(ServiceAdminMixin, RoleAdminMixin, admin.ModelAdmin):
    list_display = ("name", "version", "base_path", "upstream_url", "kind", "status")
    list_filter = ("status", "kind")
    search_fields = ("name", "base_path", "upstream_url")
    readonly_fields = ("status", "route_list")
    inlines = [RouteInline, PolicyInline]
    save_resource = staticmethod(services.save_api)
    delete_resource = staticmethod(services.delete_api)
    inline_services = {
        Route: (services.save_route, services.delete_route),
        IdentifyAndAuthorizePolicy: (services.save_policy, None),
    }
    actions = ["activate", "deactivate"]
    role_actions = {
        "view": Action.VIEW_APIS,
        "add": Action.CREATE_APIS,
        "change": Action.CHANGE_APIS,
        "delete": Action.DELETE_APIS,
        "activate": Action.ACTIVATE_APIS,
    }

    def get_inlines(self, request, obj):
        """Routes inline while they are few; beyond that, a link to their changelist
        filtered on this API (an inline form per route is megabytes at 2,000 routes)."""
        if obj is not None and obj.routes.count() > ROUTE_INLINE_MAX:
            return [PolicyInline]
        return self.inlines

    @admin.display(description="Routes")
    def route_list(self, api) -> str:
        if api.pk is None:
            return "-"
        url = reverse("admin:apis_route_changelist") + f"?api__id__exact={api.pk}"
        return format_html('<a href="{}">{} routes</a>', url, api.routes.count())

    def has_activate_permission(self, request) -> bool:
        return self.role_allows(request, "activate")

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
class RouteAdmin(ServiceAdminMixin, RoleAdminMixin, admin.ModelAdmin):
    role_actions = ROUTE_ACTIONS
    save_resource = staticmethod(services.save_route)
    delete_resource = staticmethod(services.delete_route)
    list_display = ("api", "method", "path", "required_scopes", "anonymous")
    list_filter = ("method", "anonymous")
    search_fields = ("path", "api__name")
    autocomplete_fields = ("api",)  # not a <select> of every API
