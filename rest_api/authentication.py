"""Admin-API keys: DRF's tokens, sent as `Authorization: Token <key>` or `Bearer <key>`.

Automation tools and HTTP clients default to the `Bearer` scheme; answering them
"credentials were not provided" while a key was sent cost people time, so both
scheme names are accepted for the same key. Only admin-API keys are: the
gateway's own access tokens (JWTs) never authenticate a caller here.
"""

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header

# Compared case-insensitively, as HTTP auth schemes are (RFC 9110 §11.1).
SCHEMES = (b"token", b"bearer")
KEY_HINT = (
    "Send a staff user's API key as `Authorization: Token <key>`; an administrator "
    "creates one with `manage.py drf_create_token <username>`."
)


class AdminTokenAuthentication(TokenAuthentication):
    """DRF's TokenAuthentication with `Bearer` accepted as a second keyword."""

    keyword = "Token"  # the scheme the 401 challenge advertises

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in SCHEMES:
            return None
        scheme = parts[0].decode("latin-1")
        if len(parts) == 1:
            raise exceptions.AuthenticationFailed(
                f"The Authorization header has the {scheme} scheme but no key. {KEY_HINT}"
            )
        if len(parts) > 2:
            raise exceptions.AuthenticationFailed(
                f"The Authorization header must be `{scheme} <key>`, with no spaces in the key."
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed(
                "The API key contains characters an API key never has. " + KEY_HINT
            ) from None
        return self.authenticate_credentials(key)

    def authenticate_credentials(self, key):
        if key.count(".") == 2:
            # A JWT: most likely an access token meant for a proxied API.
            raise exceptions.AuthenticationFailed(
                "This is a JWT, not an admin-API key: access tokens for proxied APIs do not "
                "authenticate here. " + KEY_HINT
            )
        try:
            return super().authenticate_credentials(key)
        except exceptions.AuthenticationFailed as exc:
            raise exceptions.AuthenticationFailed(f"{exc.detail} {KEY_HINT}") from None
