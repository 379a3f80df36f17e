from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from authservers.choices import SUPPORTED_ALGORITHMS
from authservers.fields import SERVER_FIELDS
from authservers.models import AuthorizationServer
from rest_api.fields import StorableJSONField
from rest_api.serializers import ProblemSerializer, ValidatedModelSerializer


@extend_schema_field(
    {"type": "array", "items": {"type": "string", "enum": list(SUPPORTED_ALGORITHMS)}}
)
class AlgorithmListField(StorableJSONField):
    """JWS algorithms; the model validator refuses anything outside the supported list."""


class JwksStatusSerializer(serializers.Serializer):
    """The last key fetch: when, which keys, and the last error."""

    fetched_at = serializers.DateTimeField(allow_null=True)
    key_ids = serializers.ListField(child=serializers.CharField(allow_blank=True))
    last_error = serializers.CharField(allow_blank=True)
    last_error_at = serializers.DateTimeField(allow_null=True)


class AuthorizationServerSerializer(ValidatedModelSerializer):
    """An issuer whose tokens APIs may trust."""

    jwks_status = serializers.SerializerMethodField()

    class Meta:
        model = AuthorizationServer
        fields = ["id", *SERVER_FIELDS, "jwks_status", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        json_fields = {"allowed_algorithms": AlgorithmListField}

    @extend_schema_field(JwksStatusSerializer(allow_null=True))
    def get_jwks_status(self, server: AuthorizationServer) -> dict | None:
        snapshot = getattr(server, "jwks_snapshot", None)
        if snapshot is None:
            return None
        return JwksStatusSerializer(
            {
                "fetched_at": snapshot.fetched_at,
                "key_ids": [str(kid) for kid in snapshot.key_ids],
                "last_error": snapshot.last_error,
                "last_error_at": snapshot.last_error_at,
            }
        ).data


class JwksRefreshSerializer(serializers.Serializer):
    """The outcome of a key refresh; a failure keeps the last good keys."""

    ok = serializers.BooleanField()
    key_ids = serializers.ListField(child=serializers.CharField(allow_blank=True))
    error = serializers.CharField(allow_blank=True)


class RevokeKeySerializer(serializers.Serializer):
    """The key to withdraw at once, and why (kept in the audit trail)."""

    kid = serializers.CharField(max_length=100, help_text="Key id, as published in the JWKS.")
    reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why, for the audit.",
    )


class RevokedKeySerializer(serializers.Serializer):
    """The outcome of a revocation: the key is gone from the JWKS and the gateway's keys."""

    revoked_kid = serializers.CharField()
    previous_state = serializers.CharField(help_text="active, next or retired.")
    active_kid = serializers.CharField(
        allow_null=True, help_text="The key that signs tokens from now on."
    )
    published_kids = serializers.ListField(
        child=serializers.CharField(), help_text="The key ids the JWKS publishes now."
    )


class JwksFetchProblemSerializer(ProblemSerializer):
    """A failed key refresh (code jwks_fetch_failed): the error, and the keys still served."""

    last_error = serializers.CharField(help_text="Why the fetch failed.")
    key_ids = serializers.ListField(
        child=serializers.CharField(allow_blank=True),
        help_text="Ids of the last good keys, which keep serving; empty if none.",
    )


class RotationTooSoonProblemSerializer(ProblemSerializer):
    """A rotation refused because the next key was published too recently (code
    rotation_too_soon): verifiers cache the JWKS for its max-age, so a key signs only
    once it has been published that long. Also sent as the Retry-After header."""

    retry_after_seconds = serializers.IntegerField(
        help_text="Seconds until the next key may sign; rotate again after them."
    )
    kid = serializers.CharField(help_text="The published next key that would sign.")
    signs_from = serializers.DateTimeField(
        help_text="The instant from which the rotation is possible (UTC)."
    )


class RotatedKeySerializer(serializers.Serializer):
    """The signing key the internal issuer signs with from now on (its public half is
    published; the next key is published alongside it)."""

    kid = serializers.CharField(help_text="The key id that signs tokens from now on.")
    alg = serializers.CharField()
    state = serializers.CharField(help_text="active")


class DependentApiSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ServerInUseProblemSerializer(ProblemSerializer):
    """Deleting a server active APIs trust (code server_in_use): the APIs that trust it."""

    apis = DependentApiSerializer(many=True, help_text="The active APIs that trust the server.")
