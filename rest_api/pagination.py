"""Pages of admin-API collections: `page` and `page_size`, both validated.

The envelope is DRF's (`count`, `next`, `previous`, `results`). A `page` or
`page_size` that is not a positive integer, or a `page_size` over the maximum, is a
400 validation problem naming the parameter; a page past the last one is a 404
problem with the code `page_not_found` whose detail gives the number of pages.
DRF's own class would silently clamp or ignore a bad `page_size`, and answer a bare
"Invalid page." for both a malformed and an out-of-range page.
"""

import re

from django.core.paginator import EmptyPage
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
_DIGITS = re.compile(r"[0-9]{1,18}")


def _positive_int(request, name: str, maximum: int | None = None) -> int | None:
    """The query parameter `name` as an integer in 1..maximum; None when absent."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    bound = f" from 1 to {maximum}" if maximum else " of 1 or more"
    if not _DIGITS.fullmatch(raw) or int(raw) < 1:
        raise ValidationError({name: [f"{raw[:20]!r} is not valid: give an integer{bound}."]})
    value = int(raw)
    if maximum is not None and value > maximum:
        raise ValidationError(
            {name: [f"{value} is more than the maximum of {maximum}; give an integer{bound}."]},
            code="max_value",
        )
    return value


class AdminPagination(PageNumberPagination):
    page_size = DEFAULT_PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE
    page_size_query_param = "page_size"
    page_size_query_description = (
        f"Results per page: 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})."
    )
    page_query_description = (
        "The page number, from 1; a page past the last one is a 404 `page_not_found`."
    )

    def get_page_size(self, request) -> int:
        size = _positive_int(request, self.page_size_query_param, self.max_page_size)
        return size if size is not None else self.page_size

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        page_size = self.get_page_size(request)
        number = _positive_int(request, self.page_query_param) or 1
        paginator = self.django_paginator_class(queryset, page_size)
        try:
            self.page = paginator.page(number)
        except EmptyPage:
            pages = paginator.num_pages
            raise NotFound(
                f"Page {number} does not exist: there {'is' if pages == 1 else 'are'} "
                f"{pages} page{'' if pages == 1 else 's'} of {page_size} "
                f"({paginator.count} result{'' if paginator.count == 1 else 's'}). "
                "Ask for a page from 1 to the last, or follow `next` and `previous`.",
                code="page_not_found",
            ) from None
        return list(self.page)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        envelope = super().get_paginated_response_schema(schema)
        properties = envelope["properties"]
        properties["count"] = {"type": "integer", "description": "Results on all pages."}
        for name, end in (("next", "last"), ("previous", "first")):
            properties[name].pop("example", None)
            properties[name]["description"] = f"The {name} page's URL; null on the {end} page."
        envelope["required"] = ["count", "next", "previous", "results"]  # always present
        return envelope

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": self.page_query_description,
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": self.page_size_query_description,
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                },
            },
        ]
