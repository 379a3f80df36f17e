"""The audit log: who changed what, filterable, with a field-by-field before/after."""

import json

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.roles import Action
from console.access import role_required
from console.common import paginate, query_without_page
from console.forms.audit import AuditFilterForm
from core.models import AuditEvent


@require_GET
@role_required(Action.VIEW_AUDIT)
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    events = AuditEvent.objects.all()
    form.is_valid()  # an unknown choice drops that one filter, not all of them
    data = form.cleaned_data
    if data.get("object_type"):
        events = events.filter(object_type=data["object_type"])
    if data.get("action"):
        events = events.filter(action=data["action"])
    if actor := data.get("actor", "").strip():
        events = events.filter(actor_name__icontains=actor)
    if q := data.get("q", "").strip():
        events = events.filter(Q(object_repr__icontains=q) | Q(object_id=q))
    # Object ids come from links on other pages ("history of this API").
    if request.GET.get("object_id"):
        events = events.filter(object_id=request.GET["object_id"])
    page = paginate(request, events, per_page=50)
    context = {
        "form": form,
        "page": page,
        "rows": [(event, changes(event)) for event in page],
        "query": query_without_page(request),
        "filtered": any(
            request.GET.get(name) for name in ("object_type", "action", "actor", "q", "object_id")
        ),
    }
    return render(request, "console/audit/list.html", context)


def changes(event: AuditEvent) -> list[dict]:
    """One row per field with its value before and after; changed fields first."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    rows = []
    for name in dict.fromkeys([*before, *after]):
        old, new = before.get(name), after.get(name)
        rows.append(
            {
                "field": name,
                "before": _show(old) if name in before else "",
                "after": _show(new) if name in after else "",
                "changed": old != new or (name in before) != (name in after),
            }
        )
    return sorted(rows, key=lambda row: not row["changed"])


def _show(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)
