"""Response helpers shared by the console and the REST API."""

from django.http import HttpResponseBase
from django.utils.cache import add_never_cache_headers


def never_store(response: HttpResponseBase) -> HttpResponseBase:
    """Mark a response that shows a secret once: no browser, proxy or back/forward cache
    may keep a copy (Cache-Control: no-store; Pragma for HTTP/1.0 caches)."""
    add_never_cache_headers(response)  # max-age=0, no-cache, no-store, must-revalidate, private
    response["Pragma"] = "no-cache"
    return response
