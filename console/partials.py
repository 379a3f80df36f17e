"""Page fragments that htmx fetches to enhance forms; each also renders inside full pages."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.access import staff_required


@require_GET
@staff_required
def key_value_row(request: HttpRequest) -> HttpResponse:
    """One blank name/value row for a key/value field ("Add a row" without a page reload)."""
    name = request.GET.get("name", "")
    if not name.isidentifier():
        return HttpResponse(status=400)
    widget = {
        "name": name,
        "key_label": request.GET.get("key_label", "Name")[:30],
        "value_label": request.GET.get("value_label", "Value")[:30],
    }
    return render(
        request, "console/widgets/key_value_row.html", {"widget": widget, "key": "", "value": ""}
    )
