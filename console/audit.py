"""The audit log: who changed what, from where, filterable, with a field-by-field
before/after, and exported as CSV or JSON (streamed, at most GATEWAY_AUDIT_EXPORT_MAX_ROWS)."""

import csv
import json
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.roles import Action
from console.access import role_required
from console.common import paginate, query_without_page
from console.forms.audit import SOURCE_CHOICES, AuditFilterForm
from console.listing import Column, Listing
from core.models import AuditEvent

FILTERS = ("object_type", "action", "actor", "source", "date_from", "date_to", "q", "object_id")
EXPORT_FIELDS = (
    "id",
    "created_at",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "source",
    "client_address",
    "before",
    "after",
)
# Newest first unless asked otherwise; the one index is on created_at.
COLUMNS = {"created": Column(("created_at", "id"), dated=True)}
# Database rows fetched at a time while an export streams.
EXPORT_CHUNK = 500
# A spreadsheet runs cells starting with these as formulas (CSV injection): quoted.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def filtered_events(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet]:
    form = AuditFilterForm(request.GET)
    events = AuditEvent.objects.all()
    form.is_valid()  # an unknown choice or a bad date drops that one filter, not all of them
    data = form.cleaned_data
    if data.get("object_type"):
        events = events.filter(object_type=data["object_type"])
    if data.get("action"):
        events = events.filter(action=data["action"])
    if actor := data.get("actor", "").strip():
        events = events.filter(actor_name__icontains=actor)
    if data.get("source"):
        events = events.filter(source=data["source"])
    # Whole days in the server's time zone, both ends included.
    if day := data.get("date_from"):
        events = events.filter(created_at__gte=_start_of(day))
    if day := data.get("date_to"):
        events = events.filter(created_at__lt=_start_of(day + timedelta(days=1)))
    if q := data.get("q", "").strip():
        events = events.filter(Q(object_repr__icontains=q) | Q(object_id=q))
    # Object ids come from links on other pages ("history of this API").
    if request.GET.get("object_id"):
        events = events.filter(object_id=request.GET["object_id"])
    return form, events


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@require_GET
@role_required(Action.VIEW_AUDIT)
def audit_log(request: HttpRequest) -> HttpResponse:
    form, events = filtered_events(request)
    listing = Listing(request, COLUMNS, "-created", default_size=50)
    page = paginate(request, listing.apply(events), per_page=listing.page_size)
    query = query_without_page(request)
    context = {
        "form": form,
        "page": page,
        "rows": event_rows(page),
        "listing": listing,
        "query": query,
        "filtered": any(request.GET.get(name) for name in FILTERS),
        "export_limit": settings.GATEWAY_AUDIT_EXPORT_MAX_ROWS,
    }
    return render(request, "console/audit/list.html", context)


@require_GET
@role_required(Action.VIEW_AUDIT)
def audit_export(request: HttpRequest, fmt: str) -> StreamingHttpResponse:
    """The filtered events, newest first, as CSV or JSON; never more than the export limit."""
    if fmt not in ("csv", "json"):
        raise Http404("Exports are CSV or JSON.")
    _, events = filtered_events(request)
    limit = settings.GATEWAY_AUDIT_EXPORT_MAX_ROWS
    truncated = events[: limit + 1].count() > limit
    rows = events[:limit].values(*EXPORT_FIELDS).iterator(chunk_size=EXPORT_CHUNK)
    if fmt == "csv":
        body, content_type = _csv_lines(rows), "text/csv; charset=utf-8"
    else:
        body, content_type = _json_chunks(rows), "application/json"
    response = StreamingHttpResponse(body, content_type=content_type)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="gatekeep-audit-{stamp}.{fmt}"'
    response["X-Export-Limit"] = str(limit)
    response["X-Export-Truncated"] = "true" if truncated else "false"
    response["Cache-Control"] = "no-store"
    return response


class _Line:
    """csv.writer's file: hands back what it was given."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True, cls=DjangoJSONEncoder)
    elif isinstance(value, datetime):
        value = value.isoformat()
    value = str(value)
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


def _csv_lines(rows):
    writer = csv.writer(_Line())
    yield writer.writerow(EXPORT_FIELDS)
    for row in rows:
        yield writer.writerow([_cell(row[name]) for name in EXPORT_FIELDS])


def _json_chunks(rows):
    yield "["
    for index, row in enumerate(rows):
        yield ("," if index else "") + json.dumps(row, cls=DjangoJSONEncoder)
    yield "]"


def event_rows(events) -> list[tuple[AuditEvent, list[dict]]]:
    """Each event with its field changes, labelled with where it came from (the audit log
    and an API's History tab show the same rows)."""
    sources = dict(SOURCE_CHOICES)
    rows = []
    for event in events:
        event.source_label = sources.get(event.source, event.source)
        rows.append((event, changes(event)))
    return rows


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
