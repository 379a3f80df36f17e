"""Filters shared by the admin-API views: ids, and ordering by known fields only."""

import django_filters
from django import forms
from rest_framework import filters
from rest_framework.exceptions import ValidationError

# The largest primary key a bigint column holds; larger values would crash the query.
MAX_ID = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """One object id; out-of-range values are a 400, never a database overflow."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class OrderingFilter(filters.OrderingFilter):
    """DRF's ordering, with an unknown field refused (400) instead of silently ignored.

    `ordering` is a comma-separated list of the view's `ordering_fields`, each
    optionally prefixed with `-` for descending order; the schema lists them as an enum.
    """

    def allowed_terms(self, view) -> list[str]:
        fields = list(getattr(view, "ordering_fields", None) or [])
        return [term for field in fields for term in (field, f"-{field}")]

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            terms = [param.strip() for param in params.split(",")]
            allowed = self.allowed_terms(view)
            unknown = [term for term in terms if term not in allowed]
            if unknown:
                raise ValidationError(
                    {
                        self.ordering_param: [
                            f"Cannot order by {', '.join(repr(t[:50]) for t in unknown[:5])}: "
                            f"give one or more of {', '.join(allowed)}, comma-separated."
                        ]
                    },
                    code="invalid_choice",
                )
            return terms
        return self.get_default_ordering(view)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        allowed = self.allowed_terms(view)
        if not allowed:
            return []
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Sort by these fields, comma-separated; `-` sorts descending. "
                "Anything else is a 400.",
                "schema": {"type": "array", "items": {"type": "string", "enum": allowed}},
                "style": "form",
                "explode": False,
            }
        ]
