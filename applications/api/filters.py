import django_filters

from gateway_admin.api.filters import IdFilter

from ..models import Application


class ApplicationFilter(django_filters.FilterSet):
    apis = IdFilter(field_name="apis", help_text="Only applications associated with this API.")

    class Meta:
        model = Application
        fields = ["name", "status", "apis"]
