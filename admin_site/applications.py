from django.contrib import admin

from accounts.roles import Action
from admin_site.access import RoleAdminMixin
from admin_site.writes import ServiceAdminMixin
from applications import services
from applications.models import Application


@admin.register(Application)
class ApplicationAdmin(ServiceAdminMixin, RoleAdminMixin, admin.ModelAdmin):
    list_display = ("name", "status", "identifying_claims", "api_list")
    list_filter = ("status",)
    search_fields = ("name", "description")
    # Searched as you type (ApiAdmin.search_fields), not a list of every API.
    autocomplete_fields = ("apis",)
    # A new application gets a client id here; its secret comes from "rotate secret"
    # in the console or the REST API, which show it once.
    save_resource = staticmethod(services.save_application)
    delete_resource = staticmethod(services.delete_application)
    role_actions = {
        "view": Action.VIEW_APPLICATIONS,
        "add": Action.CREATE_APPLICATIONS,
        "change": Action.CHANGE_APPLICATIONS,
        "delete": Action.DELETE_APPLICATIONS,
    }

    @admin.display(description="APIs")
    def api_list(self, application) -> str:
        return ", ".join(str(api) for api in application.apis.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("apis")
