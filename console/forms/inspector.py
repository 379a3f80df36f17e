"""The token inspector's form: a token, an API, a method and a path under the API."""

from django import forms
from django.urls import reverse

from apis.choices import CALL_METHODS
from apis.models import Api
from apis.validators import (
    INSPECTED_PATH_MAX_LENGTH,
    INSPECTED_TOKEN_MAX_LENGTH,
    validate_inspected_path,
)
from console.forms.pickers import bounded_picker
from proxy.inspector import bare_token


class InspectorForm(forms.Form):
    token = forms.CharField(
        required=False,
        strip=True,
        max_length=INSPECTED_TOKEN_MAX_LENGTH,
        widget=forms.Textarea(
            attrs={"rows": 5, "class": "mono", "spellcheck": "false", "placeholder": "eyJhbGci…"}
        ),
        help_text="Paste the access token (with or without 'Bearer '). Leave empty to inspect "
        "a call without a token.",
    )
    api = forms.ModelChoiceField(queryset=Api.objects.all(), label="API", empty_label=None)
    method = forms.ChoiceField(choices=[(m, m) for m in CALL_METHODS], initial="GET")
    path = forms.CharField(
        max_length=INSPECTED_PATH_MAX_LENGTH,
        initial="/",
        validators=[validate_inspected_path],
        help_text="The path after the API's base path, e.g. /pets/42.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="inspect-%s", **kwargs)
        bounded_picker(self.fields["api"], reverse("console:api-lookup"), exact=("base_path",))

    def clean_token(self) -> str:
        return bare_token(self.cleaned_data["token"])
