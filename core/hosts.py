"""Host names the planes answer to, and the public origin clients call."""

from django.conf import settings


def public_url(path: str) -> str:
    """An absolute URL on the public origin (the console shows where clients call)."""
    return settings.GATEWAY_PUBLIC_URL.rstrip("/") + path


def host_listed(host: str, hosts) -> bool:
    """True when no host names are configured, or `host` (with or without port) is one."""
    if not hosts:
        return True
    host = host.lower()
    return host in hosts or host.rsplit(":", 1)[0] in hosts
