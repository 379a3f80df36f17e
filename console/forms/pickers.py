"""Pickers that stay small whatever the table size: search-as-you-type instead of a full list.

A choice among a few dozen rows is easiest as a plain list, so a form keeps Django's
widget while the choices are at most FULL_LIST_MAX; beyond that `bounded_picker()`
swaps in SearchPicker: the chosen rows as checked boxes (or radio buttons), a search
box, and htmx fetching at most LOOKUP_LIMIT matches from a lookup view
(console/lookups.py) as more boxes of the same name. Without JavaScript, typing an
exact name (or base path) and submitting picks that row.
"""

from django import forms
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string

# A plain list up to this many choices; a search box above.
FULL_LIST_MAX = 50
# Matches one lookup returns.
LOOKUP_LIMIT = 20


class SearchPicker(forms.Widget):
    template_name = "console/widgets/search_picker.html"

    def __init__(self, lookup_url: str, *, multiple: bool, exact: tuple[str, ...], attrs=None):
        super().__init__(attrs)
        self.lookup_url = lookup_url
        self.multiple = multiple
        self.exact = exact  # fields an exact typed value is looked up in (no JavaScript)
        self.queryset: QuerySet | None = None  # set by bounded_picker()

    def format_value(self, value) -> list[str]:
        if value is None or value == "":
            return []
        values = value if isinstance(value, list | tuple) else [value]
        return [str(getattr(v, "pk", v)) for v in values if v not in (None, "")]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        chosen = [pk for pk in self.format_value(value) if pk.isdigit()]
        selected = list(self.queryset.filter(pk__in=chosen)) if chosen else []
        context["widget"].update(
            selected=[(str(item.pk), str(item)) for item in selected],
            input_type="checkbox" if self.multiple else "radio",
            lookup_url=self.lookup_url,
            search_name=search_name(name),
        )
        return context

    def render(self, name, value, attrs=None, renderer=None) -> str:
        # The project's template engine (templates/console/), as KeyValueWidget does.
        return render_to_string(self.template_name, self.get_context(name, value, attrs))

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else data.get(name)
        if not self.multiple and isinstance(values, list):
            values = values[-1] if values else None
        typed = (data.get(search_name(name)) or "").strip()
        if not values and typed and self.queryset is not None:
            match = self.queryset.filter(_exact(self.exact, typed)).values_list("pk", flat=True)
            found = [str(pk) for pk in match[:2]]
            if len(found) == 1:  # only an unambiguous match
                values = found if self.multiple else found[0]
        return values

    def value_omitted_from_data(self, data, files, name):
        return False  # an empty multiple choice is "none", not "unchanged"


def search_name(name: str) -> str:
    return f"{name}__search"


def _exact(fields: tuple[str, ...], typed: str) -> Q:
    query = Q()
    for field in fields:
        query |= Q(**{field: typed})
    return query


def bounded_picker(
    field: forms.ModelChoiceField,
    lookup_url: str,
    *,
    exact: tuple[str, ...] = ("name",),
    size: int | None = None,
) -> None:
    """Give `field` a SearchPicker when its queryset has more than FULL_LIST_MAX rows
    (`size`, when the caller knows it cheaply)."""
    queryset = field.queryset
    if size is None:
        size = queryset.order_by()[: FULL_LIST_MAX + 1].count()
    if size <= FULL_LIST_MAX:
        return
    multiple = isinstance(field, forms.ModelMultipleChoiceField)
    widget = SearchPicker(lookup_url, multiple=multiple, exact=exact)
    widget.queryset = queryset
    widget.is_required = field.required
    field.widget = widget


def lookup(queryset: QuerySet, text: str, fields: tuple[str, ...]) -> tuple[list, bool]:
    """At most LOOKUP_LIMIT rows of `queryset` whose `fields` contain `text`; and whether
    there were more."""
    text = text.strip()[:100]
    if text:
        query = Q()
        for field in fields:
            query |= Q(**{f"{field}__icontains": text})
        queryset = queryset.filter(query)
    found = list(queryset[: LOOKUP_LIMIT + 1])
    return found[:LOOKUP_LIMIT], len(found) > LOOKUP_LIMIT
