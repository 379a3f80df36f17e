"""Small helpers every console view uses: error mapping, confirmation pages, paging."""

import re

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

PAGE_SIZE = 25
_ROW_ID = re.compile(r"[0-9]{1,18}")
# A detail page shows this many related rows, then links to the filtered list of all.
FIRST_ROWS = 25


def row_id(value: str | None) -> int | None:
    """An id from a query parameter, or None. str.isdigit() is not enough: "²" is a digit
    that int() refuses, and a 500 is no answer to a hand-edited URL."""
    return int(value) if value and _ROW_ID.fullmatch(value) else None


def apply_errors(form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names, else on top."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        if field in form.fields:
            form.add_error(field, errors)
        else:
            label = "" if field == NON_FIELD_ERRORS else f"{field.replace('_', ' ')}: "
            form.add_error(None, [label + message for message in ValidationError(errors).messages])


def confirm(
    request: HttpRequest,
    *,
    title: str,
    question: str,
    action_url: str,
    cancel_url: str,
    button: str,
    consequences: list[str] = (),
    danger: bool = True,
) -> HttpResponse:
    """A confirmation page whose button POSTs to `action_url`: works without JavaScript."""
    return render(
        request,
        "console/confirm.html",
        {
            "title": title,
            "question": question,
            "consequences": consequences,
            "action_url": action_url,
            "cancel_url": cancel_url,
            "button": button,
            "danger": danger,
        },
    )


def paginate(
    request: HttpRequest, queryset, per_page: int = PAGE_SIZE, count: int | None = None
) -> Page:
    """A page of `queryset`; `count`, when the caller already knows it cheaply, saves
    counting a large filtered set again."""
    paginator = Paginator(queryset, per_page)
    if count is not None:
        paginator.count = count  # a cached_property: set, it is never computed
    return paginator.get_page(request.GET.get("page"))


def query_without_page(request: HttpRequest) -> str:
    """The current filters as a query string, for pagination links."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def count_of(model, field: str, **filters) -> Coalesce:
    """An annotation counting the `model` rows whose `field` points at the outer row: a
    correlated subquery, so list pages count for their own rows only and one count
    never multiplies another as joins do."""
    rows = (
        model.objects.filter(**{field: OuterRef("pk")}, **filters)
        .order_by()
        .values(field)
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


# Up to this many linked ids are fetched first and matched as a list (see linked_rows).
FEW_LINKS = 1000


def linked_rows(queryset, links, column: str, count: int):
    """The rows of `queryset` whose pk is among `links`' `column` (e.g. the applications of
    one API), `count` of them. PostgreSQL plans "join, order by name, limit 25" by walking
    the name index and probing each row: instant when most rows match, a scan of the whole
    table when few do. So a few links are fetched first and matched as a list."""
    if count <= FEW_LINKS:
        return queryset.filter(pk__in=list(links.values_list(column, flat=True)))
    return queryset.filter(pk__in=links.values(column))


def annotate_page(page: Page, queryset) -> Page:
    """Load the page's rows from `queryset` (annotated, joined) by primary key, in the page's
    order. The page itself is cut from a bare queryset: PostgreSQL computes the select list
    of every row an OFFSET skips, so page 2,000 of an annotated list would compute 50,000
    rows' counts."""
    keys = [row.pk for row in page.object_list]
    found = queryset.in_bulk(keys)
    page.object_list = [found[key] for key in keys if key in found]
    return page
