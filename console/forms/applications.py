"""Forms of the application pages: the application, and a test token from the internal issuer."""

from django import forms
from django.urls import reverse

from apis.models import Api
from applications.choices import GrantType
from applications.fields import APPLICATION_FIELDS
from applications.models import Application
from authservers.models import AuthorizationServer
from console.forms.base import ConsoleModelForm, KeyValueField, LineListField, WordListField
from console.forms.pickers import bounded_picker


class ApplicationForm(ConsoleModelForm):
    identifying_claims = KeyValueField(
        placeholders=("client_id", "my-client"),
        help_text="A token identifies this application when it carries every one of these "
        "claims with exactly these values. Leave empty for tokens of the internal issuer: "
        "its client id identifies it there.",
    )
    custom_claims = KeyValueField(
        placeholders=("tenant", "acme"),
        help_text="Added to the tokens the internal issuer signs for this application.",
    )
    apis = forms.ModelMultipleChoiceField(
        queryset=Api.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="APIs it may call",
    )
    grant_types = forms.MultipleChoiceField(
        choices=GrantType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Grant types",
        help_text="How it may get tokens from the internal issuer. A public client cannot use "
        "client credentials or password; the authorization code needs a redirect URI.",
    )
    redirect_uris = LineListField(
        required=False,
        label="Redirect URIs",
        help_text="One per line, matched exactly: https URLs, or http on 127.0.0.1, [::1] or "
        "localhost; no fragments or wildcards.",
    )
    allowed_scopes = WordListField(
        required=False,
        label="Allowed scopes",
        help_text="Space-separated. Leave empty to allow every scope its APIs define.",
    )

    class Meta:
        model = Application
        fields = APPLICATION_FIELDS
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "client_type": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["apis"] = list(self.instance.apis.values_list("pk", flat=True))
        bounded_picker(self.fields["apis"], reverse("console:api-lookup"), exact=("base_path",))


class TestTokenForm(forms.Form):
    server = forms.ModelChoiceField(
        queryset=AuthorizationServer.objects.none(), empty_label=None, label="Issuer"
    )
    audience = forms.CharField(
        required=False,
        max_length=200,
        help_text="Blank: the issuer's default audience.",
    )
    scope = forms.CharField(
        required=False, max_length=1000, help_text="Space-separated, e.g. pets:read."
    )

    def __init__(self, *args, servers, audiences=(), **kwargs):
        super().__init__(*args, auto_id="test-token-%s", **kwargs)
        self.fields["server"].queryset = servers
        self.audiences = sorted(audiences)
        self.fields["audience"].widget.attrs["list"] = "test-token-audiences"
