"""The audit trail's filter form."""

from django import forms

from console.labels import object_label
from core.models import AuditEvent


class AuditFilterForm(forms.Form):
    object_type = forms.ChoiceField(required=False, label="Object")
    action = forms.ChoiceField(required=False)
    actor = forms.CharField(required=False, label="Who")
    q = forms.CharField(required=False, label="Search")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="audit-%s", label_suffix="", **kwargs)
        for name, empty in (("object_type", "Any object"), ("action", "Any action")):
            values = AuditEvent.objects.order_by(name).values_list(name, flat=True).distinct()
            self.fields[name].choices = [("", empty), *((v, object_label(v)) for v in values)]
