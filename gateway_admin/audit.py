"""Audit trail of configuration changes; every entry point records through here."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from .models import AuditEvent

# Fields that must never be copied into the audit trail.
SECRET_FIELDS = {"private_key", "client_secret", "private_jwk", "password"}
# Bookkeeping that changes on every save and would only add noise to before/after.
NOISE_FIELDS = {"created_at", "updated_at"}


def snapshot(instance: models.Model | None) -> dict | None:
    """A JSON-safe copy of a model's fields, without secrets."""
    if instance is None:
        return None
    # Concrete fields include non-editable ones such as Api.status, which activation changes.
    data = {
        field.attname: field.value_from_object(instance) for field in instance._meta.concrete_fields
    }
    if instance.pk is not None:
        for field in instance._meta.many_to_many:
            data[field.name] = sorted(item.pk for item in getattr(instance, field.name).all())
    for name in data.keys() & SECRET_FIELDS:
        data[name] = "<redacted>"
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
