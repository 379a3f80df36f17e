"""Audit trail of configuration changes; every entry point records through here."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.forms.models import model_to_dict

from .models import AuditEvent

# Fields that must never be copied into the audit trail.
SECRET_FIELDS = {"private_key", "client_secret", "private_jwk", "password"}


def snapshot(instance: models.Model | None) -> dict | None:
    """A JSON-safe copy of a model's fields, without secrets."""
    if instance is None:
        return None
    data = model_to_dict(instance)
    for name, value in list(data.items()):
        if name in SECRET_FIELDS:
            data[name] = "<redacted>"
        elif isinstance(value, list) and value and isinstance(value[0], models.Model):
            data[name] = sorted(item.pk for item in value)
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder, default=str))


def record_event(
    actor,
    action: str,
    instance: models.Model,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=user,
        actor_name=user.get_username() if user else (actor if isinstance(actor, str) else "system"),
        action=action,
        object_type=instance._meta.model_name,
        object_id=str(instance.pk or ""),
        object_repr=str(instance)[:200],
        before=before,
        after=after,
    )
