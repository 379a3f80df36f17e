"""Validators of an application's OAuth2 settings (model fields; the rules across fields
are in Application.clean())."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from applications.choices import (
    LOOPBACK_REDIRECT_HOSTS,
    MAX_REDIRECT_URI_LENGTH,
    MAX_REDIRECT_URIS,
    GrantType,
)


def redirect_uri_problem(uri: object) -> str | None:
    """Why `uri` may not be a redirect URI, or None: an absolute https URL, or http on a
    loopback host; no fragment, no wildcard, no credentials, no whitespace."""
    if not isinstance(uri, str) or not uri:
        return f"{uri!r} is not a URL."
    if len(uri) > MAX_REDIRECT_URI_LENGTH:
        return f"A redirect URI is at most {MAX_REDIRECT_URI_LENGTH} characters."
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in uri):
        return f"{uri!r} contains whitespace or control characters."
    if "*" in uri:
        return f"{uri!r}: wildcards are not allowed; redirect URIs match exactly."
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return f"{uri!r} is not a valid URL."
    if "#" in uri:
        return f"{uri!r} has a fragment; redirect URIs must not (RFC 6749 §3.1.2)."
    if not parts.scheme or not parts.hostname:
        return f"{uri!r} is not an absolute URL."
    if parts.username is not None or parts.password is not None:
        return f"{uri!r} must not carry credentials."
    if parts.scheme == "https":
        return None
    if parts.scheme == "http":
        if parts.hostname in LOOPBACK_REDIRECT_HOSTS:
            return None
        return f"{uri!r}: use https; http is only allowed on 127.0.0.1, [::1] or localhost."
    return f"{uri!r}: use https (or http on a loopback host)."


def validate_redirect_uris(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError("Give a list of redirect URIs.")
    if len(value) > MAX_REDIRECT_URIS:
        raise ValidationError(f"At most {MAX_REDIRECT_URIS} redirect URIs.")
    problems = [problem for problem in map(redirect_uri_problem, value) if problem]
    if problems:
        raise ValidationError(problems)
    if len(set(value)) != len(value):
        raise ValidationError("Each redirect URI once.")


def validate_grant_types(value: object) -> None:
    if not isinstance(value, list):
        raise ValidationError("Give a list of grant types.")
    for grant in value:
        if grant not in GrantType.values:
            allowed = ", ".join(GrantType.values)
            raise ValidationError(f"{grant!r} is not a grant type; choose from {allowed}.")
    if len(set(value)) != len(value):
        raise ValidationError("Each grant type once.")
