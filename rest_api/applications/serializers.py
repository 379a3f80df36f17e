from rest_framework import serializers

from apis.models import Api
from applications.choices import (
    MAX_REDIRECT_URI_LENGTH,
    MAX_REDIRECT_URIS,
    ClientType,
    GrantType,
    default_grant_types,
)
from applications.fields import APPLICATION_FIELDS
from applications.models import Application
from rest_api.fields import StringListField, StringMapField
from rest_api.serializers import RejectUnknownFieldsMixin, ValidatedModelSerializer


class ApplicationSerializer(RejectUnknownFieldsMixin, ValidatedModelSerializer):
    """A client of the gateway, recognised by claims its tokens carry, and its OAuth2
    settings for the internal issuer."""

    apis = serializers.PrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=Api.objects.all(),
        help_text="Ids of the APIs this application may call.",
    )
    client_id = serializers.CharField(
        read_only=True, help_text="OAuth2 client id for the internal authorization server."
    )
    grant_types = serializers.ListField(
        child=serializers.ChoiceField(choices=GrantType.choices),
        required=False,
        help_text="Grants the internal issuer serves this application. Omitted on creation: "
        "every grant its client type and redirect URIs allow (a public client never gets "
        "client_credentials or password; authorization_code needs a redirect URI).",
    )
    redirect_uris = serializers.ListField(
        child=serializers.CharField(max_length=MAX_REDIRECT_URI_LENGTH, trim_whitespace=False),
        required=False,
        max_length=MAX_REDIRECT_URIS,
        help_text="Where the authorization-code flow may send the user back, matched exactly: "
        "https URLs, or http on 127.0.0.1, [::1] or localhost; no fragments or wildcards.",
    )

    class Meta:
        model = Application
        fields = ["id", *APPLICATION_FIELDS, "status", "client_id", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        json_fields = {
            "identifying_claims": StringMapField,
            "custom_claims": StringMapField,
            "allowed_scopes": StringListField,
        }

    def validate(self, attrs: dict) -> dict:
        if self.instance is None and "grant_types" not in attrs:
            attrs["grant_types"] = default_grant_types(
                attrs.get("client_type", ClientType.CONFIDENTIAL), attrs.get("redirect_uris", [])
            )
        return super().validate(attrs)


class ApplicationCreatedSerializer(ApplicationSerializer):
    """The create response: the only time the client secret is ever shown."""

    client_secret = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="Shown once; store it now. Rotate it if it is lost. Null for a public "
        "client, which has no secret.",
    )

    class Meta(ApplicationSerializer.Meta):
        fields = [*ApplicationSerializer.Meta.fields, "client_secret"]


class ClientSecretSerializer(serializers.Serializer):
    """New OAuth2 client credentials."""

    client_id = serializers.CharField()
    client_secret = serializers.CharField(help_text="Shown once; the previous secret is revoked.")
