"""Human names for the audit trail's object types (AuditEvent.object_type is a model name)."""

OBJECT_LABELS = {
    "api": "API",
    "route": "Route",
    "identifyandauthorizepolicy": "Policy",
    "application": "Application",
    "authorizationserver": "Authorization server",
    "signingkey": "Signing key",
    "user": "User",
}


def object_label(value: str) -> str:
    return OBJECT_LABELS.get(value, value)
