"""The access token DOT hands out: a JWT (RFC 9068) from the issuing server's active key.

oauthlib calls, in order: the grant's validation (validators.py), then
`prepare_token` (a post_token validator: which issuer, application and audience),
`access_token_lifetime` (expires_in) and `generate_access_token` (the JWT). DOT
then stores the token and a refresh token as usual.
"""

import base64
import json
import logging

from django.contrib.auth.base_user import AbstractBaseUser
from oauth2_provider.models import get_grant_model
from oauthlib.oauth2.rfc6749 import errors

from apis.models import IdentifyAndAuthorizePolicy
from applications.models import Application
from authservers.models import AuthorizationServer
from authservers.signing import SigningKeyError, issue_access_token, token_lifetime
from issuer.validators import gateway_application

logger = logging.getLogger(__name__)

# The token view puts the issuing server's id into the WSGI environ, which DOT
# copies into the oauthlib request's headers: the one channel from view to oauthlib.
ISSUER_ENVIRON_KEY = "gatekeep.issuer_id"
# Token-request parameters naming the audience: RFC 8707's resource (DOT also
# requires it to be an absolute URI) and the widespread `audience` for plain names.
AUDIENCE_PARAMETERS = ("audience", "resource")


def prepare_token(request) -> None:
    """Resolve issuer, application and audience once the grant itself is valid."""
    server = AuthorizationServer.objects.filter(
        pk=request.headers.get(ISSUER_ENVIRON_KEY) or None
    ).first()
    application = gateway_application(request.client)
    if server is None or application is None:
        raise _unavailable("The issuer is not configured.", request)
    request.gatekeep_server = server
    request.gatekeep_application = application
    request.gatekeep_audience = resolve_audience(request, server, application)


def access_token_lifetime(request) -> int:
    return token_lifetime(_prepared_server(request))


def generate_access_token(request) -> str:
    server = _prepared_server(request)
    # oauthlib fills request.user from any body parameter named "user"; only the
    # user grants replace it with the authenticated user (validate_user/_code/_refresh).
    user = request.user if request.grant_type != "client_credentials" else None
    if not isinstance(user, AbstractBaseUser):
        user = None
    try:
        return issue_access_token(
            server,
            # sub: the end user for password/code grants, the client itself otherwise.
            subject=str(user.pk) if user is not None else request.client.client_id,
            client_id=request.client.client_id,
            scope=" ".join(request.scopes or []),
            audience=request.gatekeep_audience,
            custom_claims=request.gatekeep_application.custom_claims,
            username=user.get_username() if user is not None else None,
        )
    except SigningKeyError as exc:
        logger.error("Cannot sign a token for %s: %s", server, exc)
        raise _unavailable("The issuer cannot sign tokens right now.", request) from None


def _prepared_server(request) -> AuthorizationServer:
    # isinstance: oauthlib's request also answers attribute names from the body.
    server = getattr(request, "gatekeep_server", None)
    if not isinstance(server, AuthorizationServer):  # prepare_token did not run
        raise _unavailable("The token request was not prepared.", request)
    return server


def _unavailable(description: str, request) -> errors.OAuth2Error:
    # oauthlib's TemporarilyUnavailableError is meant for redirects and answers 400.
    return errors.CustomOAuth2Error(
        error="temporarily_unavailable", description=description, status_code=503, request=request
    )


def allowed_audiences(server: AuthorizationServer, application: Application) -> set[str]:
    """The server's default audience and those of the application's APIs that trust it."""
    allowed = {server.default_audience} if server.default_audience else set()
    for audiences in IdentifyAndAuthorizePolicy.objects.filter(
        api__applications=application, authorization_servers=server
    ).values_list("audiences", flat=True):
        allowed.update(audiences)
    return allowed


def resolve_audience(
    request, server: AuthorizationServer, application: Application
) -> str | list[str] | None:
    """The requested audience if the application may have it; else the server's default."""
    requested = [value for name, value in request.decoded_body or [] if name in AUDIENCE_PARAMETERS]
    if not requested and request.grant_type == "authorization_code":
        grant = get_grant_model().objects.filter(code=request.code).first()
        requested = list(grant.resource or []) if grant else []
    if not requested and request.grant_type == "refresh_token":
        requested = _previous_audience(request)
    if not requested:
        return server.default_audience or None
    requested = list(dict.fromkeys(requested))
    allowed = allowed_audiences(server, application)
    if any(value not in allowed for value in requested):
        raise errors.CustomOAuth2Error(
            error="invalid_target",
            description="The requested audience is not one of this application's APIs.",
            request=request,
        )
    return requested[0] if len(requested) == 1 else requested


def _previous_audience(request) -> list[str]:
    """A refreshed token keeps the audience of the token it replaces."""
    refresh_token = getattr(request, "refresh_token_instance", None)
    previous = getattr(getattr(refresh_token, "access_token", None), "token", "") or ""
    try:
        payload = previous.split(".")[1]
        aud = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("aud")
    except (IndexError, ValueError, AttributeError):
        return []  # hashed token storage, or not one of ours: fall back to the default
    if isinstance(aud, str):
        return [aud]
    return [value for value in aud if isinstance(value, str)] if isinstance(aud, list) else []
