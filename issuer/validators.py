"""Who may get tokens: the gateway's Application, consulted through DOT's validator."""

import json
from datetime import timedelta
from urllib.parse import urlsplit

from django.contrib.auth.hashers import check_password, get_hasher, make_password
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.crypto import get_random_string
from oauth2_provider.models import get_id_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from accounts.logins import lockout_retry_after
from applications.models import Application
from authservers.models import AuthorizationServer
from authservers.signing import SigningKeyError, sign_jwt, token_lifetime
from core import clock

# OpenID Connect scopes, requested by name; the others are the APIs' own (issuer/scopes.py).
OIDC_SCOPES = ("openid", "profile", "email")
# The authorization view puts the session's sign-in time (epoch seconds) into the WSGI
# environ, which DOT copies into the oauthlib request's headers; it is kept with the
# authorization code under this key of the grant's `claims` JSON, for the ID token.
AUTH_TIME_ENVIRON_KEY = "gatekeep.auth_time"
AUTH_TIME_GRANT_KEY = "gatekeep_auth_time"
# Paths whose client must authenticate with a secret (public clients are refused).
CONFIDENTIAL_ONLY_PATHS = ("/oauth2/introspect",)

IDToken = get_id_token_model()

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


class LoginLockedOut(errors.OAuth2Error):
    """The password grant for a (username, address) pair that django-axes has locked out.

    invalid_grant, as any refused password grant (RFC 6749 §5.2), answered 429 with
    Retry-After so a client knows it is a lockout and when to try again.
    """

    error = "invalid_grant"
    status_code = 429

    def __init__(self, retry_after: int, request):
        super().__init__(
            description=(
                "Too many failed sign-ins for this user from this address; "
                f"retry in {retry_after} seconds."
            ),
            request=request,
        )
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


# Encoded secrets to check against when the client is unknown, by hasher (see below).
_DUMMY_SECRETS: dict[tuple, str] = {}


def spend_secret_check() -> None:
    """Check a secret against a dummy hash from the default hasher, and throw the result away.

    DOT stores client secrets with make_password() (PBKDF2 by default, hundreds of
    milliseconds) and only hashes when the client exists, so an unknown client_id
    answered at once and a known one slowly: the ids could be enumerated by timing.
    Spending the same hash on unknown ids removes the difference (Django's ModelBackend
    does the same for unknown usernames).
    """
    hasher = get_hasher()
    key = (hasher.algorithm, getattr(hasher, "iterations", None))
    encoded = _DUMMY_SECRETS.get(key)
    if encoded is None:
        encoded = _DUMMY_SECRETS.setdefault(key, make_password(get_random_string(48)))
    check_password("not-a-client-secret", encoded)


def _inactive_user(user) -> bool:
    return user is not None and not getattr(user, "is_active", True)


class GatewayOAuth2Validator(OAuth2Validator):
    """DOT's validator, with the linked gateway Application deciding grants and status.

    DOT's client model holds a single authorization_grant_type, but one gateway
    application may use several of client_credentials, password, authorization_code
    (with PKCE) and refresh_token: its own `grant_types`. The client is linked 1:1 to
    our Application rather than swapped (DOT's migrations and admin stay untouched),
    so the grant, response-type and redirect-URI checks ask the Application instead
    of DOT's fields (applications/services.py mirrors them onto the client too).
    Allowed scopes are applied by issuer/scopes.py, which DOT's validate_scopes and
    get_default_scopes consult. A DOT client without a gateway Application is
    unknown here.
    """

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        if not super().authenticate_client(request, *args, **kwargs):
            if getattr(request, "gatekeep_unknown_client", False) and not getattr(
                request, "gatekeep_known_client", False
            ):
                spend_secret_check()  # no stored secret was hashed: take as long as if one were
            return False
        return self._usable(request)

    def _load_application(self, client_id, request):
        # Note whether a presented client_id exists: DOT hashes the secret only if it does.
        client = super()._load_application(client_id, request)
        if client is not None:
            request.gatekeep_known_client = True
        elif client_id:
            request.gatekeep_unknown_client = True
        return client

    def build_http_request(self, request):
        """The Django request DOT hands to authenticate() for the password grant.

        Its path is the token endpoint's (DOT puts the absolute URI there), so sign-in
        auditing and axes see which surface the password came through; it is kept on
        the oauthlib request to read the lockout axes flags on it.
        """
        http_request = super().build_http_request(request)
        http_request.path = urlsplit(request.uri).path
        request.gatekeep_http_request = http_request
        return http_request

    def validate_user(self, username, password, client, request, *args, **kwargs) -> bool:
        # oauthlib checks the user before the grant type: refuse an application that may
        # not use this grant first, so no password is checked (or counted by axes) for it.
        if not self.validate_grant_type(None, "password", client, request):
            raise errors.UnauthorizedClientError(request=request)
        if "\x00" in (username or "") or "\x00" in (password or ""):
            # No account has a NUL in its name, and PostgreSQL refuses one in a query:
            # an ordinary failure (invalid_grant), as the login forms treat it.
            username = (username or "").replace("\x00", "\ufffd")
            password = ""
        if super().validate_user(username, password, client, request, *args, **kwargs):
            # A password grant is a sign-in without a session: the same signal as the
            # login pages updates last_login, clears axes' failure count and is audited.
            user_logged_in.send(
                sender=request.user.__class__,
                request=request.gatekeep_http_request,
                user=request.user,
            )
            return True
        http_request = getattr(request, "gatekeep_http_request", None)
        if http_request is not None and getattr(http_request, "axes_locked_out", False):
            raise LoginLockedOut(lockout_retry_after(http_request, username), request)
        return False

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        if _inactive_user(request.user):
            # Deactivating a user revokes their tokens (issuer/signals.py); this also
            # covers deactivations that bypass save(), such as QuerySet.update().
            raise errors.InvalidGrantError(
                description="The user of this refresh token is no longer active.",
                request=request,
            )
        return True

    def validate_code(self, client_id, code, client, request, *args, **kwargs) -> bool:
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        if _inactive_user(request.user):
            raise errors.InvalidGrantError(
                description="The user who authorized this code is no longer active.",
                request=request,
            )
        return True

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
        # False: oauthlib answers unauthorized_client.
        application = gateway_application(client)
        return (
            grant_type in GATEWAY_GRANT_TYPES
            and application is not None
            and grant_type in application.grant_types
        )

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
        return "authorization_code" in application.grant_types

    def validate_redirect_uri(self, client_id, redirect_uri, request, *args, **kwargs) -> bool:
        # Exact string match against the application's list (RFC 9700 §4.1.3). DOT's
        # own check would also accept any port on loopback and extra query parameters.
        application = gateway_application(request.client)
        return application is not None and redirect_uri in application.redirect_uris

    def get_default_redirect_uri(self, client_id, request, *args, **kwargs) -> str | None:
        # An authorization request may leave redirect_uri out only when exactly one is
        # registered (RFC 6749 §3.1.2.3); otherwise oauthlib refuses it as missing.
        application = gateway_application(request.client)
        if application is None or len(application.redirect_uris) != 1:
            return None
        return application.redirect_uris[0]

    def is_pkce_required(self, client_id, request) -> bool:
        # PKCE_REQUIRED is on for everyone; a public client must use PKCE whatever it says.
        if super().is_pkce_required(client_id, request):
            return True
        application = gateway_application(getattr(request, "client", None))
        return application is None or application.is_public

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


def _grant_claims(request) -> dict:
    claims = request.claims
    if isinstance(claims, str):
        try:
            claims = json.loads(claims)
        except ValueError:
            claims = None
    return dict(claims) if isinstance(claims, dict) else {}


class OpenIDValidator(GatewayOAuth2Validator):
    """OpenID Connect on DOT's hooks, signed with the issuing server's own keys.

    DOT signs ID tokens with one RSA key from settings (or the client secret); ours
    come from the AuthorizationServer's active SigningKey, with its kid, so the JWKS
    that verifies access tokens verifies ID tokens too. prompt and max_age are
    decided by issuer.views.AuthorizationView, which sees the browser session.
    """

    def client_authentication_required(self, request, *args, **kwargs) -> bool:
        if urlsplit(request.uri or "").path in CONFIDENTIAL_ONLY_PATHS:
            return True
        return super().client_authentication_required(request, *args, **kwargs)

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs) -> bool:
        if "openid" in scopes and request.grant_type == "client_credentials":
            return False  # no end user to identify: invalid_scope
        return super().validate_scopes(client_id, scopes, client, request, *args, **kwargs)

    def get_userinfo_claims(self, request) -> dict:
        if request.user is None:  # a token without an end user has nobody to describe
            raise errors.InvalidTokenError(
                description="This access token has no end user.", request=request
            )
        return super().get_userinfo_claims(request)

    # --- prompt=none: answered by the view before oauthlib asks ---------------------

    def validate_silent_login(self, request) -> bool:
        return True

    def validate_silent_authorization(self, request) -> bool:
        return True

    # --- the authorization code remembers when the user signed in -------------------

    def _create_authorization_code(self, request, code, expires=None):
        claims = _grant_claims(request)
        claims.pop(AUTH_TIME_GRANT_KEY, None)  # never the client's say
        auth_time = request.headers.get(AUTH_TIME_ENVIRON_KEY)
        if auth_time and str(auth_time).isdigit():
            claims[AUTH_TIME_GRANT_KEY] = int(auth_time)
        request.claims = claims or None
        return super()._create_authorization_code(request, code, expires)

    # --- claims -----------------------------------------------------------------------

    def get_additional_claims(self, request) -> dict:
        user = request.user
        claims = {"preferred_username": user.get_username()}
        if getattr(user, "email", ""):
            claims["email"] = user.email
        full_name = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
        if full_name:
            claims["name"] = full_name
        return claims

    def get_oidc_issuer_endpoint(self, request) -> str:
        return _issuing_server(request).issuer

    def get_id_token_dictionary(self, token, token_handler, request):
        server = _issuing_server(request)
        claims, _ = super().get_id_token_dictionary(token, token_handler, request)
        auth_time = _grant_claims(request).get(AUTH_TIME_GRANT_KEY)
        if isinstance(auth_time, int):
            claims["auth_time"] = auth_time
        lifetime = token_lifetime(server)
        claims["exp"] = int(clock.time()) + lifetime
        return claims, timezone.now() + timedelta(seconds=lifetime)

    def finalize_id_token(self, id_token, token, token_handler, request) -> str:
        server = _issuing_server(request)
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce  # oauthlib issue 746, as DOT does
        try:
            signed = sign_jwt(server, id_token, typ="JWT")
        except SigningKeyError as exc:
            raise errors.CustomOAuth2Error(
                error="temporarily_unavailable",
                description="The issuer cannot sign tokens right now.",
                status_code=503,
                request=request,
            ) from exc
        saved = self._save_id_token(id_token["jti"], request, expiration_time)
        request.access_token = saved  # as DOT: links the access token to its ID token
        request.id_token = saved
        return signed

    def _load_id_token(self, token):
        # DOT verifies with the client's key from settings; ours are the issuer's.
        from issuer.introspection import own_jwt_claims

        claims = own_jwt_claims(token)
        if claims is None or not isinstance(claims.get("jti"), str):
            return None
        return IDToken.objects.filter(jti=claims["jti"]).first()

    # --- introspection (RFC 7662) -------------------------------------------------------

    def introspect_token(self, token, token_type_hint, request, *args, **kwargs):
        from issuer.introspection import introspect

        return introspect(token, token_type_hint)


def _issuing_server(request) -> AuthorizationServer:
    server = getattr(request, "gatekeep_server", None)
    if not isinstance(server, AuthorizationServer):  # issuer.tokens.prepare_token did not run
        raise errors.CustomOAuth2Error(
            error="temporarily_unavailable",
            description="The token request was not prepared.",
            status_code=503,
            request=request,
        )
    return server
