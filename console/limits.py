"""Traffic limits: an API's limits page, an application's limits and usage page, and the
usage card of the application page (fetched by htmx, linked for browsers without it)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import Action
from apis.models import Api
from applications.models import Application
from console.access import role_required
from console.common import apply_errors
from console.forms.limits import ApplicationLimitForm, LimitPolicyForm
from traffic import services
from traffic.models import ApplicationLimit, LimitPolicy
from traffic.usage import application_usage


def _render_api_limits(request, api: Api, form: LimitPolicyForm | None = None) -> HttpResponse:
    policy = LimitPolicy.objects.filter(api=api).first()
    context = {"api": api, "policy": policy, "form": form or LimitPolicyForm(instance=policy)}
    return render(request, "console/limits/api_limits.html", context)


@require_GET
@role_required(Action.VIEW_POLICIES)
def api_limits(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_api_limits(request, get_object_or_404(Api, pk=pk))


@require_POST
@role_required(Action.SAVE_POLICIES)
def api_limits_save(request: HttpRequest, pk: int) -> HttpResponse:
    api = get_object_or_404(Api, pk=pk)
    policy = LimitPolicy.objects.filter(api=api).first() or LimitPolicy(api=api)
    form = LimitPolicyForm(request.POST, instance=policy)
    if form.is_valid():
        try:
            services.save_limit_policy(form.save(commit=False), actor=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Traffic limits saved; every gateway applies them now.")
            return redirect("console:api-limits", pk=api.pk)
    messages.error(request, "The traffic limits were not saved: see the errors below.")
    return _render_api_limits(request, api, form)


@require_POST
@role_required(Action.SAVE_POLICIES)
def api_limits_delete(request: HttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(LimitPolicy, api_id=pk)
    services.delete_limit_policy(policy, actor=request.user)
    messages.success(request, "Traffic limits removed: applications' own limits still apply.")
    return redirect("console:api-limits", pk=pk)


def _render_application_limits(
    request, application: Application, form: ApplicationLimitForm | None = None
) -> HttpResponse:
    context = {
        "application": application,
        "overrides": application.limits.select_related("api").order_by("api__base_path"),
        "usage": application_usage(application),
        "form": form or ApplicationLimitForm(application=application),
    }
    return render(request, "console/limits/application_limits.html", context)


@require_GET
@role_required(Action.VIEW_APPLICATIONS)
def application_limits(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_application_limits(request, get_object_or_404(Application, pk=pk))


@require_POST
@role_required(Action.CHANGE_APPLICATIONS)
def application_limit_add(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_object_or_404(Application, pk=pk)
    form = ApplicationLimitForm(request.POST, application=application)
    if form.is_valid():
        try:
            services.save_application_limit(form.save(commit=False), actor=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Limits saved; every gateway applies them now.")
            return redirect("console:application-limits", pk=application.pk)
    messages.error(request, "The limits were not saved: see the errors below.")
    return _render_application_limits(request, application, form)


@require_POST
@role_required(Action.CHANGE_APPLICATIONS)
def application_limit_delete(request: HttpRequest, pk: int, limit_pk: int) -> HttpResponse:
    limit = get_object_or_404(ApplicationLimit, pk=limit_pk, application_id=pk)
    services.delete_application_limit(limit, actor=request.user)
    messages.success(request, "Override removed: the APIs' defaults apply again.")
    return redirect("console:application-limits", pk=pk)


@require_GET
@role_required(Action.VIEW_APPLICATIONS)
def application_usage_card(request: HttpRequest, pk: int) -> HttpResponse:
    application = get_object_or_404(Application, pk=pk)
    context = {"application": application, "usage": application_usage(application)}
    return render(request, "console/limits/_usage.html", context)
