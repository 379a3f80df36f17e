"""Activating or deactivating several APIs from the list: a confirmation page that lists
exactly what will change, then one POST through apis/services.py (set_statuses), where
each change is audited and the config version moves once."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import Action
from apis import services
from console.access import role_required
from console.forms.apis import BulkStatusForm
from console.listing import query_dict


def _back_url(form: BulkStatusForm) -> str:
    """The list the person came from (filters, sort, page), re-encoded: never a redirect
    anywhere but the API list."""
    query = query_dict(form.data.get("back", "")).urlencode()
    return reverse("console:api-list") + (f"?{query}" if query else "")


def _refused(request: HttpRequest, form: BulkStatusForm) -> HttpResponse:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, f"Nothing was changed: {error}")
    return redirect(_back_url(form))


@require_GET
@role_required(Action.ACTIVATE_APIS)
def api_bulk_confirm(request: HttpRequest) -> HttpResponse:
    form = BulkStatusForm(request.GET)
    if not form.is_valid():
        return _refused(request, form)
    plan = services.plan_statuses(form.cleaned_data["apis"], form.status)
    context = {
        "plan": plan,
        "action": form.cleaned_data["action"],
        "back": form.cleaned_data["back"],
        "cancel_url": _back_url(form),
    }
    return render(request, "console/apis/bulk_confirm.html", context)


@require_POST
@role_required(Action.ACTIVATE_APIS)
def api_bulk(request: HttpRequest) -> HttpResponse:
    form = BulkStatusForm(request.POST)
    if not form.is_valid():
        return _refused(request, form)
    action = form.cleaned_data["action"]
    plan = services.set_statuses(form.cleaned_data["apis"], form.status, actor=request.user)
    done = "activated" if action == "activate" else "deactivated"
    if plan.change:
        names = ", ".join(str(api) for api in plan.change)
        messages.success(request, f"{len(plan.change)} {_apis(plan.change)} {done}: {names}.")
    for api, problems in plan.refused:
        messages.error(request, f"{api} was not activated: {' '.join(problems)}")
    if plan.unchanged:
        names = ", ".join(str(api) for api in plan.unchanged)
        messages.info(request, f"Already {plan.status}, unchanged: {names}.")
    return redirect(_back_url(form))


def _apis(apis: list) -> str:
    return "API" if len(apis) == 1 else "APIs"
