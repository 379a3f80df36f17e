"""Sign-in protection and its audit trail, wherever a password is checked.

django-axes counts failed sign-ins per (username, client address) and refuses that
pair for GATEWAY_LOGIN_LOCKOUT_SECONDS once GATEWAY_LOGIN_FAILURE_LIMIT is reached
(settings: AXES_*). One count covers the console, the Django admin, the OAuth2 login
page and the password grant, because all four call django.contrib.auth.authenticate().
This module adds the gateway's side: which surface was used, how long a lockout
still lasts, the lockout page, and an AuditEvent for every sign-in, failure and lockout.
"""

import logging
import math
from datetime import timedelta

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from core import ratelimit
from core.audit import record_security_event
from core.client_address import client_address

logger = logging.getLogger(__name__)

# The sign-in pages, by URL name: their POSTs count against the address's budget.
SIGN_IN_VIEWS = frozenset({"console:login", "admin:login", "oauth2-login"})
# Where the password was typed, by path prefix (the audit trail's "via").
SURFACES = (
    ("/console/sso/", "console-sso"),
    ("/console/", "console"),
    ("/admin/", "admin"),
    ("/oauth2/login", "oauth-login"),
    ("/oauth2/token", "password-grant"),
)


# Longer than any username (Django's is 150) and within axes' 255-character column.
USERNAME_MAX_LENGTH = 200


def attempted_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: the username tried, cut to a length the database keeps.

    The password grant passes whatever the client sent; an overlong one must not turn
    the failure record into a database error (PostgreSQL enforces column lengths).
    """
    field = get_user_model().USERNAME_FIELD
    if credentials:
        value = credentials.get(field)
    else:
        value = getattr(request, "data", request.POST).get(field)
    # PostgreSQL text cannot hold NUL: keep the attempt, with the byte made visible.
    return None if value is None else str(value).replace("\x00", "\ufffd")[:USERNAME_MAX_LENGTH]


def cool_off(request: HttpRequest | None = None) -> timedelta:
    """AXES_COOLOFF_TIME: how long a (username, address) pair stays locked out."""
    return timedelta(seconds=settings.GATEWAY_LOGIN_LOCKOUT_SECONDS)


def login_surface(request: HttpRequest) -> str:
    path = getattr(request, "path", "") or ""
    return next((name for prefix, name in SURFACES if path.startswith(prefix)), "other")


def request_address(request: HttpRequest) -> str | None:
    # axes resolved it already (through client_address) on any request it has seen.
    return getattr(request, "axes_ip_address", None) or client_address(request)


def lockout_retry_after(request: HttpRequest, username: str | None) -> int:
    """Whole seconds until this username may sign in again from this address."""
    window = get_cool_off(request)
    latest = AccessAttempt.objects.filter(
        username=username, ip_address=request_address(request)
    ).aggregate(latest=Max("attempt_time"))["latest"]
    if latest is None:
        return math.ceil(window.total_seconds())
    # Attempts refused during a lockout are not recorded, so the last recorded failure
    # is the one that started it: the lockout ends one cool-off after it.
    return max(1, math.ceil((latest + window - timezone.now()).total_seconds()))


class LockoutBackend(AxesStandaloneBackend):
    """Refuses locked-out (username, address) pairs before any password is checked.

    authenticate() without a request comes from code in this process (a shell, a
    management command), not from a network client: there is no address to count
    against, so it is let through to the next backend instead of raising.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 with Retry-After and a page saying when to try again."""
    retry_after = lockout_retry_after(request, get_client_username(request, credentials))
    return _refusal_page(request, retry_after, "account")


class SignInRateLimitMiddleware:
    """At most GATEWAY_LOGIN_ATTEMPTS_PER_ADDRESS sign-in POSTs per minute from one address.

    The lockout is per (username, address); this bounds what one address can try over
    many usernames (password spraying), and so the failures it adds to the audit trail.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if request.method != "POST" or match is None or match.view_name not in SIGN_IN_VIEWS:
            return None
        limit = ratelimit.Limit("sign-in-address", settings.GATEWAY_LOGIN_ATTEMPTS_PER_ADDRESS, 60)
        address = client_address(request) or "unknown"
        exceeded = ratelimit.hit(limit, address)
        if exceeded is None:
            return None
        logger.warning("Sign-in attempts from %s refused: over %s a minute", address, limit.limit)
        return _refusal_page(request, exceeded.retry_after, "address")


def _refusal_page(request: HttpRequest, retry_after: int, locked: str) -> HttpResponse:
    # End users of the OAuth2 login page see its plain look, staff the console's.
    if login_surface(request) == "oauth-login":
        template = "issuer/locked_out.html"
    else:
        template = "console/locked_out.html"
    context = {
        "retry_after": retry_after,
        "retry_minutes": math.ceil(retry_after / 60),
        "retry_at": timezone.now() + timedelta(seconds=retry_after),
        "login_url": request.get_full_path(),
        "locked": locked,  # "account": this username from here; "address": anything from here
    }
    response = render(request, template, context, status=settings.AXES_HTTP_RESPONSE_CODE)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


# --- Audit trail ------------------------------------------------------------------


def _details(request: HttpRequest, **extra) -> dict:
    return {
        "via": login_surface(request),
        "address": request_address(request),
        "user_agent": str(request.META.get("HTTP_USER_AGENT", ""))[:200],
        **extra,
    }


def _on_logged_in(sender, request=None, user=None, **kwargs) -> None:
    # Sign-ins with a password on one of the surfaces; login() called by code without a
    # credential check (the test client's force_login) is no sign-in attempt.
    if request is None or user is None or login_surface(request) == "other":
        return
    record_security_event(
        "login",
        subject=user.get_username(),
        actor=user,
        object_id=user.pk,
        details=_details(request),
    )


def _on_login_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    if request is None:
        return  # an in-process check (shell, command), not a sign-in
    # The lockout backend flags a refusal before axes counts anything; the attempt
    # that *reaches* the limit also ends flagged, but only after it was counted.
    refused = bool(getattr(request, "axes_locked_out", False)) and (
        getattr(request, "axes_failures_since_start", None) is None
    )
    username = attempted_username(request, credentials) or ""
    record_security_event(
        "login-failed",
        subject=str(username),
        actor_name=request_address(request) or "unknown",
        details=_details(request, reason="locked_out" if refused else "invalid_credentials"),
    )


def _on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    failures = getattr(request, "axes_failures_since_start", None)
    if request is None or failures is None:
        return  # axes repeats the signal for every refused attempt: those are login-failed
    retry_after = lockout_retry_after(request, username)
    record_security_event(
        "lockout",
        subject=str(username or ""),
        actor_name=ip_address or "unknown",
        details=_details(
            request,
            failures=failures,
            locked_until=timezone.now() + timedelta(seconds=retry_after),
        ),
    )


def connect() -> None:
    user_logged_in.connect(_on_logged_in, dispatch_uid="gatekeep-audit-logged-in")
    user_login_failed.connect(_on_login_failed, dispatch_uid="gatekeep-audit-login-failed")
    user_locked_out.connect(_on_locked_out, dispatch_uid="gatekeep-audit-locked-out")
