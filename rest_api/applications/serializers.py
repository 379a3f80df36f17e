from rest_framework import serializers

from apis.models import Api
from applications.fields import APPLICATION_FIELDS
from applications.models import Application
from rest_api.fields import StringMapField
from rest_api.serializers import ValidatedModelSerializer


class ApplicationSerializer(ValidatedModelSerializer):
    """A client of the gateway, recognised by claims its tokens carry."""

    apis = serializers.PrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=Api.objects.all(),
        help_text="Ids of the APIs this application may call.",
    )
    client_id = serializers.CharField(
        read_only=True, help_text="OAuth2 client id for the internal authorization server."
    )

    class Meta:
        model = Application
        fields = ["id", *APPLICATION_FIELDS, "status", "client_id", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        json_fields = {"identifying_claims": StringMapField, "custom_claims": StringMapField}


class ApplicationCreatedSerializer(ApplicationSerializer):
    """The create response: the only time the client secret is ever shown."""

    client_secret = serializers.CharField(
        read_only=True, help_text="Shown once; store it now. Rotate it if it is lost."
    )

    class Meta(ApplicationSerializer.Meta):
        fields = [*ApplicationSerializer.Meta.fields, "client_secret"]


class ClientSecretSerializer(serializers.Serializer):
    """New OAuth2 client credentials."""

    client_id = serializers.CharField()
    client_secret = serializers.CharField(help_text="Shown once; the previous secret is revoked.")
