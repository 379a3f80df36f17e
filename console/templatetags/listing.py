"""Template helpers of sortable, paged lists (console/listing.py)."""

from django import template

from console.listing import Listing, page_numbers

register = template.Library()


@register.inclusion_tag("console/includes/sort_header.html")
def sort_header(listing: Listing, key: str, label: str) -> dict:
    """`{% sort_header listing "name" "API" %}`: a column header that sorts the list."""
    return {"link": listing.sort_link(key), "label": label}


@register.simple_tag
def page_links(page, listing: Listing) -> list[tuple[int | None, str]]:
    return page_numbers(page, listing)


@register.filter
def page_url(listing: Listing, number: int) -> str:
    return listing.page_url(number)
