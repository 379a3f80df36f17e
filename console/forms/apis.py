"""Forms of the API pages: the API itself, its routes and policy, associations, OpenAPI import
and the list filter."""

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse

from apis.choices import ApiStatus
from apis.fields import API_FIELDS, POLICY_FIELDS, ROUTE_FIELDS
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.openapi_import import DocumentTooLarge, max_document_bytes
from applications.models import Application
from authservers.models import AuthorizationServer
from console.common import row_id
from console.forms.base import ConsoleModelForm, KeyValueField, WordListField
from console.forms.pickers import bounded_picker
from console.listing import MAX_SELECTED


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

    def __init__(self, *args, api: Api, associated: int | None = None, **kwargs):
        super().__init__(*args, auto_id="associate-%s", **kwargs)
        self.fields["application"].queryset = Application.objects.exclude(apis=api)
        # How many could be chosen, from two counts: finding the few applications not
        # associated with an API that has 100,000 means scanning them all.
        if associated is None:
            associated = Application.apis.through.objects.filter(api=api).count()
        self.candidates = Application.objects.count() - associated
        bounded_picker(
            self.fields["application"],
            reverse("console:api-application-lookup", args=[api.pk]),
            exact=("name",),
            size=self.candidates,
        )


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


class IdListField(forms.Field):
    """Row ids from checkboxes: digits only, or the form is invalid."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        ids = [row_id(v) if isinstance(v, str) else None for v in values]
        if None in ids:
            raise ValidationError("Choose APIs from the list.", code="invalid")
        return list(dict.fromkeys(ids))


class BulkStatusForm(forms.Form):
    """Activate or deactivate the APIs ticked on the list (at most one page of them).

    Hostile input (unknown action, non-numeric or unknown ids, too many) makes the form
    invalid; nothing is changed and the list says why.
    """

    action = forms.ChoiceField(choices=[("activate", "Activate"), ("deactivate", "Deactivate")])
    apis = IdListField(error_messages={"required": "Tick the APIs to change first."})
    # The list's query string, to go back to the same filters, sort and page.
    back = forms.CharField(required=False)

    def clean_apis(self) -> list[Api]:
        ids = self.cleaned_data["apis"]
        if len(ids) > MAX_SELECTED:
            raise ValidationError(f"Choose at most {MAX_SELECTED} APIs at a time.")
        found = list(Api.objects.filter(pk__in=ids).order_by("base_path"))
        if len(found) != len(ids):
            raise ValidationError("Some of the chosen APIs no longer exist.")
        return found

    @property
    def status(self) -> str:
        return ApiStatus.ACTIVE if self.cleaned_data["action"] == "activate" else ApiStatus.INACTIVE
