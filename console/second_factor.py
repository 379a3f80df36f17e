"""The console's second sign-in step and the page where a local account sets up its
authenticator app (accounts/second_factor.py).

After a correct password, an account with a confirmed authenticator is not signed in
yet: the session remembers who passed the password step (for PENDING_SECONDS, at most
MAX_ATTEMPTS wrong codes) and the verify page asks for a code. Wrong codes are audited
as failed sign-ins.
"""

import base64
import time

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import second_factor
from accounts.logins import request_address
from console.access import staff_required
from core.audit import record_security_event

PENDING_KEY = "console_second_factor"
PENDING_SECONDS = 300
MAX_ATTEMPTS = 5
BACKEND = "django.contrib.auth.backends.ModelBackend"


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=10,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, auto_id="otp-%s", **kwargs)


def needs_second_step(user) -> bool:
    return second_factor.confirmed_device(user) is not None


def begin(request: HttpRequest, user, next_url: str) -> HttpResponse:
    """The password was right: remember who, and ask for the code."""
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "next": next_url,
        "until": time.time() + PENDING_SECONDS,
        "failures": 0,
    }
    return redirect("console:login-verify")


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING_KEY)
    if not pending or pending.get("until", 0) < time.time():
        request.session.pop(PENDING_KEY, None)
        messages.error(request, "Sign in again: the second step timed out.")
        return redirect("console:login")
    user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
    device = second_factor.confirmed_device(user)
    if device is None:
        request.session.pop(PENDING_KEY, None)
        return redirect("console:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if second_factor.verify(device, form.cleaned_data["code"]):
            request.session.pop(PENDING_KEY, None)
            login(request, user, backend=BACKEND)
            return redirect(pending.get("next") or "console:dashboard")
        pending["failures"] += 1
        record_security_event(
            "login-failed",
            subject=user.get_username(),
            actor_name=request_address(request) or "unknown",
            details={
                "via": "console",
                "address": request_address(request),
                "reason": "wrong_second_factor",
            },
        )
        if pending["failures"] >= MAX_ATTEMPTS:
            request.session.pop(PENDING_KEY, None)
            messages.error(request, "Too many wrong codes. Sign in again.")
            return redirect("console:login")
        request.session[PENDING_KEY] = pending
        form.add_error("code", "That code is not right, or was used already. Try the next one.")
    return render(request, "console/login_verify.html", {"form": form, "user_name": user})


@require_http_methods(["GET", "POST"])
@staff_required
def setup(request: HttpRequest) -> HttpResponse:
    """Set up, confirm or remove the signed-in account's authenticator app."""
    user = request.user
    if hasattr(user, "sso_identity"):
        return render(request, "console/second_factor.html", {"sso": True})
    form = CodeForm(request.POST or None)
    if request.method == "POST" and "start" in request.POST:
        second_factor.start_enrollment(user)
        return redirect("console:second-factor")
    if request.method == "POST" and form.is_valid():
        if second_factor.confirm_enrollment(user, form.cleaned_data["code"]):
            messages.success(request, "Two-step sign-in is on: the console will ask for a code.")
            return redirect("console:second-factor")
        form.add_error("code", "That code is not right. Check the key and the phone's clock.")
    pending = second_factor.pending_device(user)
    context = {
        "form": form,
        "device": second_factor.confirmed_device(user),
        "pending": pending,
        "key": _base32(pending) if pending else "",
        "config_url": pending.config_url if pending else "",
    }
    return render(request, "console/second_factor.html", context)


@require_POST
@staff_required
def remove(request: HttpRequest) -> HttpResponse:
    second_factor.remove(request.user, actor=request.user)
    messages.success(request, "Two-step sign-in is off for your account.")
    return redirect("console:second-factor")


def _base32(device) -> str:
    """The key as authenticator apps take it when typed: base32, in groups of four."""
    key = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))
