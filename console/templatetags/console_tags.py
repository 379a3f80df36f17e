"""Template helpers of the console: navigation state, badges and value formatting."""

import json
from datetime import timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from accounts import roles
from console import labels

register = template.Library()


@register.filter
def can(user, action_name: str) -> bool:
    """`{% if user|can:"activate_apis" %}`: the role check the views make (roles.Action)."""
    return roles.can(user, roles.Action[action_name.upper()])


@register.filter
def role(user) -> str:
    """The user's Gatekeep role, or "no role"."""
    return str(roles.role_of(user) or "no role")


# Which sidebar entry a page belongs to, by the prefix of its URL name.
SECTIONS = {
    "dashboard": ("dashboard",),
    "apis": ("api-", "route-", "policy-"),
    "applications": ("application-",),
    "servers": ("server-",),
    "inspector": ("inspector",),
    "audit": ("audit-",),
}

BADGE_COLOURS = {
    "active": "green",
    "ok": "green",
    "inactive": "gray",
    "suspended": "red",
    "error": "red",
    "warning": "amber",
    "next": "blue",
    "retired": "gray",
    "revoked": "red",
    "internal": "violet",
    "external": "blue",
    "create": "green",
    "update": "blue",
    "delete": "red",
    "activate": "green",
    "deactivate": "amber",
    "import-openapi": "green",
    "rotate-secret": "violet",
    "rotate-signing-key": "violet",
    "revoke-signing-key": "red",
    "set-role": "violet",
}


@register.simple_tag(takes_context=True)
def nav_active(context, section: str) -> str:
    match = getattr(context.get("request"), "resolver_match", None)
    name = match.url_name if match else ""
    prefixes = SECTIONS.get(section, ())
    return "active" if any(name == p or name.startswith(p) for p in prefixes) else ""


@register.filter
def badge_colour(value) -> str:
    return BADGE_COLOURS.get(str(value), "gray")


@register.filter
def object_label(value) -> str:
    return labels.object_label(str(value))


@register.filter
def ago(value) -> str:
    """ "just now", or "5 minutes ago"."""
    if value is None:
        return ""
    now = timezone.now()
    if (now - value).total_seconds() < 60:
        return "just now"
    return f"{timesince(value, now)} ago"


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False)


@register.filter
def age(value: timedelta) -> str:
    """A duration as the largest two units, e.g. "3 days, 2 hours"."""
    if not isinstance(value, timedelta):
        return ""
    now = timezone.now()
    return timesince(now - value, now)


@register.filter
def words(value) -> str:
    """A JSON list shown as space-separated words."""
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    return str(value or "")
