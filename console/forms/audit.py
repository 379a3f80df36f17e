"""The audit trail's filter form."""

from django import forms

from console.labels import object_label
from core.audit_context import Source
from core.models import AuditEvent

SOURCE_CHOICES = [
    ("", "Anywhere"),
    (Source.CONSOLE, "Console"),
    (Source.REST, "REST API"),
    (Source.ADMIN, "Django admin"),
    (Source.CONFIG_APPLY, "Config apply"),
    (Source.SHELL, "Shell"),
    (Source.COMMAND, "Management command"),
    (Source.OAUTH, "OAuth2 endpoints"),
    (Source.SYSTEM, "System"),
]


class DateInput(forms.DateInput):
    input_type = "date"


class AuditFilterForm(forms.Form):
    object_type = forms.ChoiceField(required=False, label="Object")
    action = forms.ChoiceField(required=False)
    actor = forms.CharField(required=False, label="Who")
    source = forms.ChoiceField(required=False, label="From", choices=SOURCE_CHOICES)
    date_from = forms.DateField(required=False, label="Since", widget=DateInput)
    date_to = forms.DateField(required=False, label="Until", widget=DateInput)
    q = forms.CharField(required=False, label="Search")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="audit-%s", label_suffix="", **kwargs)
        for name, empty in (("object_type", "Any object"), ("action", "Any action")):
            values = AuditEvent.objects.order_by(name).values_list(name, flat=True).distinct()
            self.fields[name].choices = [("", empty), *((v, object_label(v)) for v in values)]
