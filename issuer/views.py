"""HTTP endpoints of the internal authorization server (docs/architecture.md, URL map).

The grant flows are DOT's views; these subclasses only pick the issuing server,
refuse grants the gateway does not serve, and keep every answer OAuth2 JSON.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from django.views.generic import View
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from oauthlib.openid.connect.core import exceptions as oidc_errors

from authservers.choices import ServerKind
from authservers.jwks import KeyRejected
from authservers.models import AuthorizationServer
from authservers.published_keys import published_jwks
from core import clock
from issuer import throttle
from issuer.scopes import ApiScopes
from issuer.tokens import ISSUER_ENVIRON_KEY, allowed_audiences
from issuer.validators import (
    AUTH_TIME_ENVIRON_KEY,
    GATEWAY_GRANT_TYPES,
    OIDC_SCOPES,
    gateway_application,
)

# When the browser session signed in through LoginView (epoch seconds): auth_time.
SESSION_AUTH_TIME = "gatekeep_auth_time"
# Client authentication at the token, introspection and revocation endpoints.
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
# The ID token's claims and those userinfo answers (when the user has them).
CLAIMS_SUPPORTED = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "preferred_username",
    "email",
    "name",
]


def internal_server(request: HttpRequest) -> AuthorizationServer | None:
    """The internal server addressed: the only one, or the one whose issuer is this origin."""
    servers = list(AuthorizationServer.objects.filter(kind=ServerKind.INTERNAL))
    if len(servers) == 1:
        return servers[0]
    origin = f"{request.scheme}://{request.get_host()}"
    return next((server for server in servers if server.issuer.rstrip("/") == origin), None)


def oauth_error(error: str, description: str, status: int) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def too_many_requests(exceeded) -> JsonResponse:
    # RFC 6749 has no rate-limit error; too_many_requests is the common extension value.
    response = oauth_error("too_many_requests", throttle.describe(exceeded), 429)
    response["Retry-After"] = str(exceeded.retry_after)
    return response


def client_auth_challenge(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """invalid_client (401) challenges with the scheme the client used (RFC 6749 §5.2).

    oauthlib always answers `WWW-Authenticate: Bearer`; a client that sent HTTP Basic
    is told Basic, and one that sent its secret in the body gets no challenge.
    """
    if response.status_code != 401:
        return response
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    if authorization[:6].lower() == "basic ":
        response["WWW-Authenticate"] = 'Basic realm="oauth2", charset="UTF-8"'
    elif "WWW-Authenticate" in response:
        del response["WWW-Authenticate"]
    return response


def _oauthlib_response(request: HttpRequest, result) -> HttpResponse:
    _, headers, body, status = result
    response = HttpResponse(content=body or "", status=status)
    for name, value in headers.items():
        response[name] = value
    response["Content-Type"] = "application/json"
    response["Cache-Control"] = "no-store"
    return client_auth_challenge(request, response)


class PostOnlyMixin:
    """A JSON OAuth error, not Django's empty 405, for a method other than POST."""

    def http_method_not_allowed(self, request, *args, **kwargs) -> JsonResponse:
        response = oauth_error(
            "invalid_request", f"{request.method} is not allowed here; use POST.", 405
        )
        response["Allow"] = "POST"
        return response


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(PostOnlyMixin, dot_views.TokenView):
    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        exceeded = throttle.admit(request)
        if exceeded is not None:
            return too_many_requests(exceeded)
        grant_type = request.POST.get("grant_type", "")
        if not grant_type:
            return oauth_error("invalid_request", "The grant_type parameter is missing.", 400)
        if grant_type not in GATEWAY_GRANT_TYPES:
            # Checked before DOT, whose device-code branch would fail on a missing parameter.
            return oauth_error(
                "unsupported_grant_type",
                "Use client_credentials, password, authorization_code or refresh_token.",
                400,
            )
        server = internal_server(request)
        if server is None:
            return oauth_error(
                "temporarily_unavailable", "No internal authorization server is configured.", 503
            )
        request.META[ISSUER_ENVIRON_KEY] = str(server.pk)
        response = super().post(request, *args, **kwargs)
        if response.status_code == 401:  # invalid_client: oauthlib's only 401
            throttle.record_client_failure(request)
        # Errors raised outside a grant come back from DOT without oauthlib's headers.
        response["Content-Type"] = "application/json"
        response["Cache-Control"] = "no-store"
        return client_auth_challenge(request, response)


@method_decorator(csrf_exempt, name="dispatch")
class IntrospectView(PostOnlyMixin, OAuthLibMixin, View):
    """RFC 7662: any authenticated confidential client may ask about a token."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        exceeded = throttle.admit(request)
        if exceeded is not None:
            return too_many_requests(exceeded)
        core = self.get_oauthlib_core()
        uri, method, body, headers = core._extract_params(request)
        response = _oauthlib_response(
            request, (None, *core.server.create_introspect_response(uri, method, body, headers))
        )
        if response.status_code == 401:
            throttle.record_client_failure(request)
        return response


@method_decorator(csrf_exempt, name="dispatch")
class RevokeView(PostOnlyMixin, dot_views.RevokeTokenView):
    """RFC 7009: a client revokes its own access or refresh tokens; 200 for unknown ones."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        exceeded = throttle.admit(request)
        if exceeded is not None:
            return too_many_requests(exceeded)
        response = _oauthlib_response(request, self.create_revocation_response(request))
        if response.status_code == 401:
            throttle.record_client_failure(request)
        return response


@method_decorator(csrf_exempt, name="dispatch")
class UserInfoView(dot_views.UserInfoView):
    """OpenID Connect userinfo: GET or POST with an access token granted `openid`."""

    def _create_userinfo_response(self, request):
        response = super()._create_userinfo_response(request)
        response["Cache-Control"] = "no-store"
        if response.status_code == 200:
            response["Content-Type"] = "application/json"
        return response


def _prompt(request: HttpRequest) -> set[str]:
    return set(request.GET.get("prompt", "").split())


def _without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return f"{request.path}?{urlencode(list(query.lists()), doseq=True)}"


class AuthorizationView(dot_views.AuthorizationView):
    """DOT's authorization view, with the refusals a client must get before any page.

    An invalid request (client, redirect_uri, PKCE method, resource) is answered
    before the login page; OpenID Connect's prompt and max_age are decided here,
    where the browser session is known.
    """

    login_url = reverse_lazy("oauth2-login")
    template_name = "issuer/authorize.html"

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.oauth2_data = {}
        auth_time = request.session.get(SESSION_AUTH_TIME)
        if isinstance(auth_time, int) and request.user.is_authenticated:
            request.META[AUTH_TIME_ENVIRON_KEY] = str(auth_time)
        if request.method == "GET":
            early = self._answer_early(request)
            if early is not None:
                return early
        return super().dispatch(request, *args, **kwargs)

    def _error(self, error, credentials: dict, application) -> HttpResponse:
        error.state = credentials.get("state")
        wrapped = OAuthToolkitError(error=error, redirect_uri=credentials["redirect_uri"])
        return self.error_response(wrapped, application)

    def _answer_early(self, request: HttpRequest) -> HttpResponse | None:
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        client = get_application_model().objects.get(client_id=credentials["client_id"])
        # RFC 7636 §4.3: a challenge without a method is plain.
        method = request.GET.get("code_challenge_method", "plain")
        if request.GET.get("code_challenge") and method != "S256":
            return self._error(
                oauth_errors.InvalidRequestError(
                    description='Unsupported code_challenge_method; use "S256".'
                ),
                credentials,
                client,
            )
        refused = self._unknown_resources(request, client)
        if refused:
            return self._error(
                oauth_errors.CustomOAuth2Error(
                    error="invalid_target",
                    description="Unknown resource: " + " ".join(refused)[:200],
                ),
                credentials,
                client,
            )
        prompt = _prompt(request)
        if "none" in prompt:
            return self._silent(request, scopes, credentials, client, prompt)
        if not request.user.is_authenticated and "max_age" in request.GET:
            # Signing in now satisfies max_age; kept in `next`, a slow sign-in would loop.
            return redirect_to_login(_without(request, "prompt", "max_age"), self.get_login_url())
        if request.user.is_authenticated and ("login" in prompt or self._too_old(request)):
            # Re-authenticate: the session ends, and the sign-in comes back here
            # without the parameters that asked for it.
            logout(request)
            return redirect_to_login(_without(request, "prompt", "max_age"), self.get_login_url())
        return None

    @staticmethod
    def _unknown_resources(request: HttpRequest, client) -> list[str]:
        requested = request.GET.getlist("resource")
        if not requested:
            return []
        server = internal_server(request)
        application = gateway_application(client)
        if server is None or application is None:
            return requested
        allowed = allowed_audiences(server, application)
        return [value for value in requested if value not in allowed]

    @staticmethod
    def _too_old(request: HttpRequest) -> bool:
        max_age = request.GET.get("max_age")
        if max_age is None or not request.user.is_authenticated:
            return False
        if not max_age.isdigit():
            return False  # oauthlib's validation keeps the value as given; ignore junk
        auth_time = request.session.get(SESSION_AUTH_TIME)
        if not isinstance(auth_time, int):
            return True  # signed in elsewhere: when is unknown
        return int(clock.time()) - auth_time > int(max_age)

    def _silent(self, request, scopes, credentials, client, prompt) -> HttpResponse:
        if prompt != {"none"}:
            return self._error(
                oauth_errors.InvalidRequestError(
                    description="prompt=none cannot be combined with other values."
                ),
                credentials,
                client,
            )
        if not request.user.is_authenticated or self._too_old(request):
            return self._error(oidc_errors.LoginRequired(), credentials, client)
        if not self._consented(request.user, client, scopes):
            return self._error(oidc_errors.ConsentRequired(), credentials, client)
        if request.GET.getlist("resource"):
            credentials["resource"] = request.GET.getlist("resource")
        try:
            uri, _, _, _ = self.create_authorization_response(
                request=request, scopes=" ".join(scopes), credentials=credentials, allow=True
            )
        except OAuthToolkitError as error:
            return self.error_response(error, client)
        return self.redirect(uri, client)

    @staticmethod
    def _consented(user, client, scopes) -> bool:
        """The user approved these scopes for this client before (a live token says so)."""
        if client.skip_authorization:
            return True
        tokens = get_access_token_model().objects.filter(
            user=user, application=client, expires__gt=timezone.now()
        )
        return any(token.allow_scopes(scopes) for token in tokens)

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if "prompt" in request.GET:
            # prompt=none and login were answered above; consent is the form DOT shows.
            request.GET = request.GET.copy()
            request.GET.pop("prompt")
        return super().get(request, *args, **kwargs)


class LoginView(auth_views.LoginView):
    """End users sign in here before authorizing an application (the admin login is staff-only)."""

    template_name = "issuer/login.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        # auth_time of the ID tokens this sign-in leads to, and what max_age is measured by.
        self.request.session[SESSION_AUTH_TIME] = int(clock.time())
        return response


def _published_keys(server: AuthorizationServer) -> list[dict]:
    try:
        return published_jwks(server)
    except KeyRejected:
        return []  # no key yet: the first token request creates them


def _public_json(data: dict, status: int = 200) -> JsonResponse:
    response = JsonResponse(data, status=status)
    # Verifiers cache this long; a next key is published at least as long before it signs.
    response["Cache-Control"] = f"public, max-age={settings.GATEWAY_JWKS_MAX_AGE_SECONDS}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def jwks(request: HttpRequest) -> JsonResponse:
    server = internal_server(request)
    if server is None:
        return oauth_error("not_found", "No internal authorization server is configured.", 404)
    return _public_json({"keys": _published_keys(server)})


def server_metadata(server: AuthorizationServer) -> dict:
    """What the issuer does, as RFC 8414 and OpenID Connect Discovery 1.0 describe it."""
    # Endpoints hang off the configured issuer: the public URL, even behind a proxy.
    base = server.issuer.rstrip("/")
    algorithms = sorted({key["alg"] for key in _published_keys(server)}) or [
        settings.GATEWAY_SIGNING_KEY_ALGORITHM
    ]
    return {
        "issuer": server.issuer,
        "authorization_endpoint": base + reverse("oauth2-authorize"),
        "token_endpoint": base + reverse("oauth2-token"),
        "userinfo_endpoint": base + reverse("oauth2-userinfo"),
        "jwks_uri": base + reverse("oauth2-jwks"),
        "introspection_endpoint": base + reverse("oauth2-introspect"),
        "revocation_endpoint": base + reverse("oauth2-revoke"),
        "grant_types_supported": sorted(GATEWAY_GRANT_TYPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        # "none": public clients (PKCE, no secret) at the token and revocation endpoints.
        "token_endpoint_auth_methods_supported": [*CLIENT_AUTH_METHODS, "none"],
        "revocation_endpoint_auth_methods_supported": [*CLIENT_AUTH_METHODS, "none"],
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "scopes_supported": sorted({*ApiScopes().get_all_scopes(), *OIDC_SCOPES}),
        "claims_supported": CLAIMS_SUPPORTED,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algorithms,
        "access_token_signing_alg_values_supported": algorithms,
        "userinfo_signing_alg_values_supported": ["none"],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
    }


def _metadata_view(request: HttpRequest) -> JsonResponse:
    server = internal_server(request)
    if server is None:
        return oauth_error("not_found", "No internal authorization server is configured.", 404)
    return _public_json(server_metadata(server))


@require_safe
def openid_configuration(request: HttpRequest) -> JsonResponse:
    return _metadata_view(request)


@require_safe
def authorization_server_metadata(request: HttpRequest) -> JsonResponse:
    """RFC 8414 §3: the same document at /.well-known/oauth-authorization-server."""
    return _metadata_view(request)
