"""Whether the Django cache is shared between processes (Redis) or private to one."""

from django.conf import settings

_PROCESS_LOCAL = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def cache_is_shared() -> bool:
    """A process-local cache cannot announce anything to another process (or plane)."""
    return settings.CACHES["default"]["BACKEND"] not in _PROCESS_LOCAL
