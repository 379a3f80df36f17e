"""Console forms: model forms for the objects, plus the fields that make JSON columns typeable.

The forms only turn HTML inputs into values; the rules stay in Model.clean() and
the services, which report through ValidationError (see common.apply_errors).
"""

import re
from itertools import zip_longest

from django import forms
from django.core.exceptions import ValidationError
from django.template.loader import render_to_string

from apis.choices import CALL_METHODS
from apis.fields import API_FIELDS, POLICY_FIELDS, ROUTE_FIELDS
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.openapi_import import DocumentTooLarge, max_document_bytes
from apis.validators import (
    INSPECTED_PATH_MAX_LENGTH,
    INSPECTED_TOKEN_MAX_LENGTH,
    validate_inspected_path,
)
from applications.fields import APPLICATION_FIELDS
from applications.models import Application
from authservers.choices import SUPPORTED_ALGORITHMS
from authservers.fields import SERVER_FIELDS
from authservers.models import AuthorizationServer, default_algorithms
from console.labels import object_label
from core.models import AuditEvent

_SEPARATORS = re.compile(r"[\s,]+")
_BEARER_PREFIX = re.compile(r"^bearer\s+", re.IGNORECASE)


class WordListField(forms.CharField):
    """A JSON list of strings, typed as words separated by spaces, commas or new lines."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return " ".join(str(item) for item in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list):
            return value
        words = _SEPARATORS.split(super().to_python(value) or "")
        return list(dict.fromkeys(word for word in words if word))


class KeyValueWidget(forms.Widget):
    """Rows of name/value inputs (`<name>-key`, `<name>-value`), plus blank rows to fill in."""

    template_name = "console/widgets/key_value.html"

    def __init__(self, key_label="Claim", value_label="Value", placeholders=("", ""), attrs=None):
        super().__init__(attrs)
        self.key_label = key_label
        self.value_label = value_label
        self.placeholders = placeholders

    def format_value(self, value):
        return value  # a dict (initial) or a list of pairs (submitted), not a string

    def render(self, name, value, attrs=None, renderer=None) -> str:
        # The project's template engine, which finds templates/console/ (the default
        # form renderer only looks in the apps' and Django's own template folders).
        # render_to_string returns a SafeString: the template escaped every value.
        return render_to_string(self.template_name, self.get_context(name, value, attrs))

    def value_from_datadict(self, data, files, name) -> list[tuple[str, str]]:
        keys = data.getlist(f"{name}-key") if hasattr(data, "getlist") else []
        values = data.getlist(f"{name}-value") if hasattr(data, "getlist") else []
        return list(zip_longest(keys, values, fillvalue=""))

    def value_omitted_from_data(self, data, files, name) -> bool:
        return f"{name}-key" not in data

    def get_context(self, name, value, attrs) -> dict:
        context = super().get_context(name, value, attrs)
        pairs = list(value.items()) if isinstance(value, dict) else list(value or [])
        rows = [(str(k), str(v)) for k, v in pairs if str(k).strip() or str(v).strip()]
        # Forms must work without JavaScript, so a few blank rows are always there.
        blanks = 2 if not rows else 1
        context["widget"].update(
            rows=rows + [("", "")] * blanks,
            key_label=self.key_label,
            value_label=self.value_label,
            key_placeholder=self.placeholders[0],
            value_placeholder=self.placeholders[1],
        )
        return context


class KeyValueField(forms.Field):
    """A flat JSON object of strings edited as rows; blank rows are ignored."""

    widget = KeyValueWidget

    def __init__(self, *, key_label="Claim", value_label="Value", placeholders=("", ""), **kw):
        kw.setdefault("required", False)
        kw.setdefault("widget", KeyValueWidget(key_label, value_label, placeholders))
        super().__init__(**kw)

    def to_python(self, value) -> dict:
        if isinstance(value, dict):
            return value
        result: dict[str, str] = {}
        problems = []
        for key, item in value or []:
            key, item = key.strip(), item.strip()
            if not key and not item:
                continue
            if not key:
                problems.append(f"Give a name for the value {item!r}.")
            elif not item:
                problems.append(f"Give a value for {key}.")
            elif key in result:
                problems.append(f"{key} is listed twice.")
            else:
                result[key] = item
        if problems:
            raise ValidationError(problems)
        return result

    def has_changed(self, initial, data) -> bool:
        return (initial or {}) != self.to_python(data)


class ConsoleModelForm(forms.ModelForm):
    """Model forms whose inputs get ids unique per form, so several can share a page."""

    def __init__(self, *args, **kwargs):
        self.form_id = self.id_for(kwargs.get("instance"))
        kwargs.setdefault("auto_id", f"{self.form_id}-%s")
        super().__init__(*args, **kwargs)

    @classmethod
    def id_for(cls, instance) -> str:
        return cls.__name__.lower().removesuffix("form")


# --- APIs ----------------------------------------------------------------------


class ApiForm(ConsoleModelForm):
    class Meta:
        model = Api
        fields = API_FIELDS
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "base_path": forms.TextInput(attrs={"placeholder": "/petstore/v1"}),
            "upstream_url": forms.TextInput(attrs={"placeholder": "https://backend.internal:8443"}),
        }
        labels = {"upstream_url": "Upstream URL", "kind": "Kind"}
        help_texts = {
            "base_path": "Clients call the gateway at /gateway + this path.",
            "upstream_url": "Where the gateway forwards allowed calls.",
            "connect_timeout": "Seconds.",
            "read_timeout": "Seconds.",
        }


class RouteForm(ConsoleModelForm):
    required_scopes = WordListField(
        required=False,
        help_text="Space-separated; added to the scopes the policy requires.",
        widget=forms.TextInput(attrs={"placeholder": "pets:read"}),
    )

    class Meta:
        model = Route
        fields = ROUTE_FIELDS
        widgets = {"path": forms.TextInput(attrs={"placeholder": "/pets/{id}"})}
        labels = {"anonymous": "Public (no token)"}
        help_texts = {"path": "Templates: {id} matches one segment, {path+} the rest."}

    @classmethod
    def id_for(cls, instance) -> str:
        return f"route{instance.pk if instance is not None and instance.pk else 'new'}"


class PolicyForm(ConsoleModelForm):
    authorization_servers = forms.ModelMultipleChoiceField(
        queryset=AuthorizationServer.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Trusted authorization servers",
        help_text="Tokens must be issued by one of these.",
    )
    audiences = WordListField(
        # Required unless every call is anonymous: IdentifyAndAuthorizePolicy.clean() decides.
        required=False,
        help_text="The token's aud must contain one of these (space-separated). Only an API "
        "whose every call is anonymous may leave it empty.",
        widget=forms.TextInput(attrs={"placeholder": "petstore"}),
    )
    required_scopes = WordListField(
        required=False,
        label="Scopes for every route",
        help_text="Space-separated; each route can require more.",
    )
    forward_claims = KeyValueField(
        key_label="Claim",
        value_label="Header",
        placeholders=("email", "X-User-Email"),
        label="Claims forwarded upstream",
        help_text="Each claim is sent to the upstream in the named X- header.",
    )

    class Meta:
        model = IdentifyAndAuthorizePolicy
        fields = POLICY_FIELDS
        labels = {
            "identity_source": "Token location",
            "identity_name": "Header, parameter or cookie name",
            "allow_anonymous": "Allow anonymous calls to every route",
            "forward_authorization": "Forward the Authorization header",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["authorization_servers"] = list(
                self.instance.authorization_servers.values_list("pk", flat=True)
            )


class AssociateApplicationForm(forms.Form):
    application = forms.ModelChoiceField(queryset=Application.objects.none(), empty_label=None)

    def __init__(self, *args, api: Api, **kwargs):
        super().__init__(*args, auto_id="associate-%s", **kwargs)
        self.fields["application"].queryset = Application.objects.exclude(apis=api)


class OpenApiImportForm(forms.Form):
    document = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "mono"}),
        label="Paste the document",
        help_text="OpenAPI 3.x or Swagger 2.0, as JSON or YAML.",
    )
    upload = forms.FileField(required=False, label="…or upload a file")
    name = forms.CharField(required=False, max_length=100, help_text="Defaults to info.title.")
    version = forms.CharField(required=False, max_length=50, help_text="Defaults to info.version.")
    base_path = forms.CharField(
        required=False, max_length=300, help_text="Defaults to /<title>/<version>."
    )
    upstream_url = forms.CharField(
        required=False,
        max_length=500,
        label="Upstream URL",
        help_text="Defaults to the document's first server.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="import-%s", **kwargs)

    def clean(self) -> dict:
        data = super().clean()
        upload = data.get("upload")
        if upload and data.get("document", "").strip():
            raise ValidationError("Paste the document or upload a file, not both.")
        if upload:
            if upload.size > max_document_bytes():
                # Refused before it is read: the same message the import itself would give.
                raise ValidationError({"upload": DocumentTooLarge(upload.size).messages})
            try:
                data["document"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError({"upload": "The file is not UTF-8 text."}) from None
        elif not data.get("document", "").strip():
            raise ValidationError({"document": "Paste the document or upload a file."})
        return data


class ApiFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *Api._meta.get_field("status").choices]
    )
    kind = forms.ChoiceField(
        required=False, choices=[("", "Any kind"), *Api._meta.get_field("kind").choices]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="filter-%s", label_suffix="", **kwargs)


# --- applications ----------------------------------------------------------------


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

    class Meta:
        model = Application
        fields = APPLICATION_FIELDS
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["apis"] = list(self.instance.apis.values_list("pk", flat=True))


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


# --- authorization servers -----------------------------------------------------------


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


# --- token inspector and audit ----------------------------------------------------------


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

    def clean_token(self) -> str:
        return _BEARER_PREFIX.sub("", self.cleaned_data["token"]).strip()


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
