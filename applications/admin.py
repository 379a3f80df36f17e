from django.contrib import admin

from accounts.admin import RoleAdminMixin
from accounts.roles import Action
from applications.models import Application
from core.audit import record_event, snapshot


@admin.register(Application)
class ApplicationAdmin(RoleAdminMixin, admin.ModelAdmin):
    list_display = ("name", "status", "identifying_claims", "api_list")
    list_filter = ("status",)
    search_fields = ("name", "description")
    filter_horizontal = ("apis",)
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

    def save_related(self, request, form, formsets, change) -> None:
        before = (
            snapshot(Application.objects.filter(pk=form.instance.pk).first()) if change else None
        )
        super().save_related(request, form, formsets, change)
        record_event(
            request.user,
            "update" if change else "create",
            form.instance,
            before,
            snapshot(form.instance),
        )
