"""HTTP endpoints of the internal authorization server (docs/architecture.md, URL map).

The grant flows are DOT's views; these subclasses only pick the issuing server,
refuse grants the gateway does not serve, and keep every answer OAuth2 JSON.
"""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from oauth2_provider import views as dot_views

from authservers.choices import ServerKind
from authservers.jwks import KeyRejected
from authservers.models import AuthorizationServer
from authservers.published_keys import published_jwks
from issuer import throttle
from issuer.scopes import ApiScopes
from issuer.tokens import ISSUER_ENVIRON_KEY
from issuer.validators import GATEWAY_GRANT_TYPES


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


@method_decorator(csrf_exempt, name="dispatch")
class TokenView(dot_views.TokenView):
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
        return response


class AuthorizationView(dot_views.AuthorizationView):
    login_url = reverse_lazy("oauth2-login")


class LoginView(auth_views.LoginView):
    """End users sign in here before authorizing an application (the admin login is staff-only)."""

    template_name = "issuer/login.html"


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


@require_safe
def openid_configuration(request: HttpRequest) -> JsonResponse:
    server = internal_server(request)
    if server is None:
        return oauth_error("not_found", "No internal authorization server is configured.", 404)
    # Endpoints hang off the configured issuer: the public URL, even behind a proxy.
    base = server.issuer.rstrip("/")
    algorithms = sorted({key["alg"] for key in _published_keys(server)}) or [
        settings.GATEWAY_SIGNING_KEY_ALGORITHM
    ]
    return _public_json(
        {
            "issuer": server.issuer,
            "authorization_endpoint": base + reverse("oauth2-authorize"),
            "token_endpoint": base + reverse("oauth2-token"),
            "jwks_uri": base + reverse("oauth2-jwks"),
            "grant_types_supported": sorted(GATEWAY_GRANT_TYPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": sorted(ApiScopes().get_all_scopes()),
            "subject_types_supported": ["public"],
            # No ID tokens are issued; verifiers read these to learn which algs the JWTs use.
            "id_token_signing_alg_values_supported": algorithms,
            "access_token_signing_alg_values_supported": algorithms,
        }
    )
