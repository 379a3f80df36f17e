"""Sortable, paged lists: `?sort=` and `?per_page=` on every console list page.

A list names the columns it may be sorted by and its default order; any other value,
and any page size outside PAGE_SIZES, falls back to the default instead of failing, so
a hand-edited or hostile URL still shows the list. Sorting is by indexed or small
columns only: a count computed per row would have to be computed for every row the
OFFSET skips (console/common.py, annotate_page).
"""

from dataclasses import dataclass

from django.core.paginator import Page
from django.http import HttpRequest, QueryDict

PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = PAGE_SIZES[0]
# A bulk action takes at most one page of rows.
MAX_SELECTED = PAGE_SIZES[-1]


@dataclass(frozen=True)
class Column:
    """A sortable column: the ORDER BY of its ascending order (ending in a unique field,
    so pages never overlap), and whether it holds dates."""

    order: tuple[str, ...]
    dated: bool = False


@dataclass(frozen=True)
class SortLink:
    url: str
    # "ascending" / "descending" on the column the list is sorted by (aria-sort), else "".
    state: str


class Listing:
    """The sort and page size a request asks for, checked against `columns`."""

    smallest_size = PAGE_SIZES[0]  # below it, a list has no page-size choice

    def __init__(
        self,
        request: HttpRequest,
        columns: dict[str, Column],
        default: str,
        default_size: int = DEFAULT_PAGE_SIZE,
    ):
        self.columns = columns
        self.default = default
        self.default_size = default_size
        self.params = request.GET
        asked = request.GET.get("sort", "")
        key = asked.removeprefix("-")
        self.sort = asked if key in columns else default
        self.key = self.sort.removeprefix("-")
        self.descending = self.sort.startswith("-")
        asked_size = request.GET.get("per_page", "")
        sizes = {str(size): size for size in PAGE_SIZES}
        self.page_size = sizes.get(asked_size, default_size)

    def order_by(self) -> list[str]:
        fields = self.columns[self.key].order
        if not self.descending:
            return list(fields)
        return [name[1:] if name.startswith("-") else f"-{name}" for name in fields]

    def apply(self, queryset):
        return queryset.order_by(*self.order_by())

    # --- links: the current query with one thing changed, back on the first page -------

    def url(self, **changes) -> str:
        params = self.params.copy()
        params.pop("page", None)
        for name, value in changes.items():
            params.pop(name, None)
            if value is not None:
                params[name] = str(value)
        return f"?{params.urlencode()}" if params else "?"

    def sort_link(self, key: str) -> SortLink:
        """A column header's link: the other direction when sorted by it, else its first
        direction (newest first for dates)."""
        if key == self.key:
            target = key if self.descending else f"-{key}"
            state = "descending" if self.descending else "ascending"
        else:
            target = f"-{key}" if self.columns[key].dated else key
            state = ""
        return SortLink(self.url(sort=None if target == self.default else target), state)

    @property
    def size_links(self) -> list[tuple[int, str, bool]]:
        """(size, link, current) for each page size offered."""
        return [
            (
                size,
                self.url(per_page=None if size == self.default_size else size),
                size == self.page_size,
            )
            for size in PAGE_SIZES
        ]

    def page_url(self, number: int) -> str:
        params = self.params.copy()
        params.pop("page", None)
        if number > 1:
            params["page"] = str(number)
        return f"?{params.urlencode()}" if params else "?"

    # --- what "next page" means in this order --------------------------------------

    @property
    def labels(self) -> tuple[str, str]:
        """(previous, next): "Newer"/"Older" only when the list is in date order."""
        if not self.columns[self.key].dated:
            return "Previous", "Next"
        return ("Newer", "Older") if self.descending else ("Older", "Newer")


def page_numbers(page: Page, listing: Listing) -> list[tuple[int | None, str]]:
    """The page links around the current page and at both ends: (number, url), with
    (None, "") for an ellipsis."""
    numbers = page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    return [
        (number, listing.page_url(number)) if isinstance(number, int) else (None, "")
        for number in numbers
    ]


def query_dict(raw: str) -> QueryDict:
    """A query string someone sent back (the list to return to), re-parsed and re-encoded."""
    return QueryDict(raw[:2000])
