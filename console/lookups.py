"""Server-side look-ups behind the search-as-you-type pickers (console/forms/pickers.py).

Each answers an htmx GET with at most LOOKUP_LIMIT matches as checkboxes or radio
buttons named like the form field they feed, so the form posts them as if the whole
list had been there.
"""

import re

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from accounts.roles import Action
from apis.models import Api
from applications.models import Application
from console.access import role_required
from console.forms.pickers import lookup, search_name

_FIELD_NAME = re.compile(r"^[a-z_]{1,40}$")


def _results(
    request: HttpRequest, queryset, fields: tuple[str, ...], default_field: str
) -> HttpResponse:
    field = request.GET.get("field", default_field)
    if not _FIELD_NAME.match(field):
        return HttpResponse(status=400)
    input_type = "radio" if request.GET.get("type") == "radio" else "checkbox"
    found, more = lookup(queryset, request.GET.get(search_name(field), ""), fields)
    context = {
        "field": field,
        "input_type": input_type,
        "options": [(item.pk, str(item)) for item in found],
        "more": more,
    }
    return render(request, "console/widgets/search_picker_results.html", context)


@require_GET
@role_required(Action.VIEW_APIS)
def api_lookup(request: HttpRequest) -> HttpResponse:
    """APIs by name, version or base path (application form, token inspector)."""
    apis = Api.objects.order_by("name", "version")
    return _results(request, apis, ("name", "base_path"), "api")


@require_GET
@role_required(Action.CHANGE_APPLICATIONS)
def unassociated_application_lookup(request: HttpRequest, pk: int) -> HttpResponse:
    """Applications not yet allowed to call API `pk` (the API page's "Allow" picker)."""
    api = get_object_or_404(Api, pk=pk)
    applications = Application.objects.exclude(apis=api).order_by("name")
    return _results(request, applications, ("name", "oauth_client__client_id"), "application")
