"""The console's sign-in pages: local accounts (break-glass) and OpenID Connect single sign-on.

Authlib's Django client runs the protocol: discovery, the authorization code flow with
PKCE (S256), state and nonce kept in the session, the token request, and the ID
token's signature, issuer, audience, expiry and nonce. accounts/sso.py turns the
verified claims into an account and a role. Every outcome is audited: a sign-in
through Django's user_logged_in (accounts/logins.py, via "console-sso"), a refusal
here as login-failed with its reason.
"""

import logging
from datetime import timedelta
from functools import lru_cache

from authlib.integrations.base_client import OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET
from joserfc.errors import JoseError  # what Authlib's OpenID Connect client raises
from requests import RequestException

from accounts import sso
from accounts.logins import request_address
from console import second_factor
from console.access import StaffAuthenticationForm
from core.audit import record_security_event

logger = logging.getLogger(__name__)

# Where the console's session keeps the page to return to after the provider.
NEXT_KEY = "console_sso_next"
# Deadlines of every request to the provider (discovery, keys, token).
PROVIDER_TIMEOUT = (5, 10)


class LoginView(auth_views.LoginView):
    """Django's login page, offering single sign-on when it is configured."""

    template_name = "console/login.html"
    authentication_form = StaffAuthenticationForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["sso"] = sso.config()
        return context

    def form_valid(self, form):
        # A local account with an authenticator app is signed in after its code.
        user = form.get_user()
        if second_factor.needs_second_step(user):
            return second_factor.begin(self.request, user, self.get_success_url())
        return super().form_valid(form)


def _client(conf: sso.SsoConfig):
    return _cached_client(conf.discovery_url, conf.client_id, conf.client_secret, conf.scopes)


@lru_cache(maxsize=4)
def _cached_client(discovery_url: str, client_id: str, client_secret: str, scopes: str):
    # One Authlib client per configuration: it caches the discovery document.
    registry = OAuth()
    return registry.register(
        name="console",
        client_id=client_id,
        client_secret=client_secret or None,
        server_metadata_url=discovery_url,
        client_kwargs={
            "scope": scopes,
            "code_challenge_method": "S256",
            "timeout": PROVIDER_TIMEOUT,
        },
    )


def _metadata(client, conf: sso.SsoConfig) -> dict:
    metadata = client.load_server_metadata()
    # The discovered issuer must be the configured one (OIDC Discovery §4.3).
    if conf.issuer and metadata.get("issuer", "").rstrip("/") != conf.issuer:
        _cached_client.cache_clear()
        raise OAuthError(error="issuer_mismatch", description="discovered issuer differs")
    return metadata


def _redirect_uri(request: HttpRequest, conf: sso.SsoConfig) -> str:
    return conf.redirect_uri or request.build_absolute_uri(reverse("console:sso-callback"))


def _refuse(request: HttpRequest, reason: str, message: str, subject: str = "") -> HttpResponse:
    record_security_event(
        "login-failed",
        subject=subject,
        actor_name=request_address(request) or "unknown",
        details={
            "via": "console-sso",
            "address": request_address(request),
            "user_agent": str(request.META.get("HTTP_USER_AGENT", ""))[:200],
            "reason": reason,
        },
    )
    messages.error(request, message)
    return redirect("console:login")


@require_GET
def sso_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to the provider's authorization endpoint."""
    conf = sso.config()
    if conf is None:
        return redirect("console:login")
    next_url = request.GET.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    request.session[NEXT_KEY] = next_url if allowed else ""
    client = _client(conf)
    try:
        _metadata(client, conf)
        return client.authorize_redirect(request, _redirect_uri(request, conf))
    except (OAuthError, RequestException, ValueError) as exc:
        logger.warning("Single sign-on: the provider could not be reached: %s", exc)
        return _refuse(
            request,
            "provider_unavailable",
            "The identity provider cannot be reached right now. Try again, or sign in with "
            "a local account.",
        )


@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    """The provider's answer: verify it, find or create the account, sign in."""
    conf = sso.config()
    if conf is None:
        return redirect("console:login")
    client = _client(conf)
    try:
        _metadata(client, conf)
        token = client.authorize_access_token(request)
    except OAuthError as exc:
        # The provider's error code (access_denied…), a bad state, or an ID token that
        # does not verify: all refused, none explained in more detail to the browser.
        logger.info("Single sign-on refused: %s", exc)
        return _refuse(request, exc.error or "invalid_response", "Single sign-on did not complete.")
    except JoseError as exc:
        # The ID token's signature, issuer, audience, expiry or nonce did not verify.
        logger.warning("Single sign-on: ID token refused: %s", exc)
        return _refuse(request, "invalid_id_token", "Single sign-on did not complete.")
    except (RequestException, ValueError, KeyError) as exc:
        logger.warning("Single sign-on failed: %s", exc)
        return _refuse(request, "invalid_response", "Single sign-on did not complete.")
    claims = token.get("userinfo")
    if not claims:  # no ID token: the provider did not authenticate anybody
        return _refuse(request, "no_id_token", "Single sign-on did not complete.")
    try:
        user = sso.sign_in(dict(claims), conf)
    except sso.SignInRefused as refused:
        return _refuse(request, refused.reason, refused.message, subject=refused.subject)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    next_url = request.session.pop(NEXT_KEY, "") or reverse("console:dashboard")
    return redirect(next_url)


def _limit_console_session(sender, request=None, user=None, **kwargs) -> None:
    """A console sign-in (local or single sign-on) lasts GATEWAY_CONSOLE_SESSION_SECONDS."""
    if request is None or not request.path.startswith("/console/"):
        return
    ends = timezone.now() + timedelta(seconds=settings.GATEWAY_CONSOLE_SESSION_SECONDS)
    request.session.set_expiry(ends)


user_logged_in.connect(_limit_console_session, dispatch_uid="gatekeep-console-session-limit")
