import django_filters

from applications.models import Application
from rest_api.filters import IdFilter


class ApplicationFilter(django_filters.FilterSet):
    apis = IdFilter(field_name="apis", help_text="Only applications associated with this API.")

    class Meta:
        model = Application
        fields = ["name", "status", "apis"]
