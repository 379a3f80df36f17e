"""Filters shared by the admin-API filtersets."""

import django_filters
from django import forms

# The largest primary key a bigint column holds; larger values would crash the query.
MAX_ID = 2**63 - 1


class IdFilter(django_filters.NumberFilter):
    """One object id; out-of-range values are a 400, never a database overflow."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)
