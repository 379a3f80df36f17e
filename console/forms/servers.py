"""The authorization server form."""

from django import forms

from authservers.choices import SUPPORTED_ALGORITHMS
from authservers.fields import SERVER_FIELDS
from authservers.models import AuthorizationServer, default_algorithms
from console.forms.base import ConsoleModelForm


class ServerForm(ConsoleModelForm):
    allowed_algorithms = forms.MultipleChoiceField(
        choices=[(alg, alg) for alg in SUPPORTED_ALGORITHMS],
        initial=default_algorithms,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "inline-choices"}),
        help_text="A token signed with any other algorithm is refused.",
    )

    class Meta:
        model = AuthorizationServer
        fields = SERVER_FIELDS
        widgets = {
            "issuer": forms.TextInput(attrs={"placeholder": "https://login.example.com/realms/x"}),
            "public_certificate": forms.Textarea(attrs={"rows": 4, "class": "mono"}),
        }
        labels = {
            "discovery_url": "Discovery URL",
            "jwks_uri": "JWKS URI",
            "required_typ": "Required typ header",
            "jwks_refresh_seconds": "Key refresh interval (s)",
            "max_stale_seconds": "Serve cached keys for at most (s)",
            "leeway_seconds": "Clock leeway (s)",
            "token_lifetime_seconds": "Token lifetime (s)",
        }
        help_texts = {
            "token_lifetime_seconds": "Internal issuer only.",
            "default_audience": "Internal issuer only: aud of tokens that ask for none.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Switching kind would orphan signing keys or start signing for a foreign issuer.
            self.fields["kind"].disabled = True
            self.fields["kind"].help_text = "The kind is fixed once the server exists."
