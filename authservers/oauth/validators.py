"""Who may get tokens: the gateway's Application, consulted through DOT's validator."""

from django.core.exceptions import ObjectDoesNotExist
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from applications.models import Application

# The grants this issuer serves. Implicit, hybrid and device-code are never issued.
GATEWAY_GRANT_TYPES = frozenset(
    {"client_credentials", "password", "authorization_code", "refresh_token"}
)


def gateway_application(client) -> Application | None:
    """The gateway Application linked to a DOT client, if any."""
    if client is None:
        return None
    try:
        return client.gateway_application
    except ObjectDoesNotExist:
        return None


class GatewayOAuth2Validator(OAuth2Validator):
    """DOT's validator, with the linked gateway Application deciding grants and status.

    DOT's client model holds a single authorization_grant_type, but one gateway
    application must be able to use client_credentials, password,
    authorization_code (with PKCE) and refresh_token. The client is linked 1:1 to
    our Application rather than swapped (DOT's migrations and admin stay
    untouched), so the grant and response-type checks ask the Application instead
    of that field. A DOT client without a gateway Application is unknown here.
    """

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        return self._usable(request)

    def authenticate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        if not super().authenticate_client_id(client_id, request, *args, **kwargs):
            return False
        return self._usable(request)

    def validate_client_id(self, client_id, request, *args, **kwargs) -> bool:
        if not super().validate_client_id(client_id, request, *args, **kwargs):
            return False
        return gateway_application(request.client) is not None

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        # Replaces DOT's single-grant check (and its RFC 9700 warning for the password
        # grant, which the gateway offers on purpose: the seed's end-user workflow).
        return grant_type in GATEWAY_GRANT_TYPES and gateway_application(client) is not None

    def validate_response_type(
        self, client_id, response_type, client, request, *args, **kwargs
    ) -> bool:
        application = gateway_application(client)
        if response_type != "code" or application is None:
            return False  # oauthlib answers unauthorized_client
        if not application.is_active:
            raise errors.UnauthorizedClientError(
                description="The application is suspended.", request=request
            )
        return True

    @staticmethod
    def _usable(request) -> bool:
        application = gateway_application(request.client)
        if application is None:
            return False  # oauthlib answers invalid_client
        if not application.is_active:
            # Said only after the client proved its secret, so it reveals nothing to strangers.
            raise errors.UnauthorizedClientError(
                description="The application is suspended.", request=request
            )
        return True
