"""Who may use the console: signed-in, active staff users, each page as their role allows."""

from functools import wraps

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render
from django.urls import reverse

from accounts import roles

NOT_STAFF_MESSAGE = (
    "This account is not a staff account, so it cannot use the Gatekeep console. "
    "Ask an administrator to grant it staff status."
)


def staff_required(view):
    """Anonymous users go to the login page; signed-in non-staff users get a 403 page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff):
            return render(
                request, "console/forbidden.html", {"message": NOT_STAFF_MESSAGE}, status=403
            )
        return view(request, *args, **kwargs)

    return wrapper


def role_required(action: roles.Action):
    """staff_required, then the user's role must allow `action` (accounts/roles.py).

    Refused users get the 403 page saying which role the action needs; nothing runs.
    """

    def decorator(view):
        @wraps(view)
        @staff_required
        def wrapper(request, *args, **kwargs):
            if not roles.can(request.user, action):
                context = {
                    "title": "Not allowed",
                    "message": roles.refusal(request.user, action),
                    # Somewhere to go back to, unless the account can see nothing at all.
                    "back_url": reverse("console:dashboard")
                    if roles.can(request.user, roles.Action.VIEW_APIS)
                    else None,
                }
                return render(request, "console/forbidden.html", context, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class StaffAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing valid credentials of non-staff users with a clear reason."""

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise forms.ValidationError(NOT_STAFF_MESSAGE, code="not_staff")
