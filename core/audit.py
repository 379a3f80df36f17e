"""Audit trail of configuration changes and sign-ins; every entry point records through here."""

import json
from collections.abc import Iterable, Mapping

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from core.audit_context import current as current_context
from core.models import AuditEvent

# Actions of sign-in events (accounts/logins.py), as opposed to configuration changes.
SIGN_IN_ACTIONS = ("login", "login-failed", "lockout")
# Fields that must never be copied into the audit trail.
SECRET_FIELDS = {"private_key", "client_secret", "private_jwk", "password"}
# Bookkeeping that changes on every save and would only add noise to before/after.
NOISE_FIELDS = {"created_at", "updated_at"}


def snapshot(
    instance: models.Model | None, related: Mapping[str, Iterable] | None = None
) -> dict | None:
    """A JSON-safe copy of a model's fields, without secrets.

    `related`: the instances of its many-to-many fields when the caller knows them (a
    bulk write), instead of one query per field.
    """
    if instance is None:
        return None
    # Concrete fields include non-editable ones such as Api.status, which activation changes.
    data = {
        field.attname: field.value_from_object(instance) for field in instance._meta.concrete_fields
    }
    if instance.pk is not None:
        for field in instance._meta.many_to_many:
            if related is not None:
                items = related.get(field.name, ())
            else:
                items = getattr(instance, field.name).all()
            data[field.name] = sorted(item.pk for item in items)
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
    event = audit_event(actor, action, instance, before, after)
    event.save()
    return event


def record_events(events: list[AuditEvent]) -> None:
    """Events of a bulk write (core/changes.py create_many), saved in batches."""
    AuditEvent.objects.bulk_create(events, batch_size=1000)


def audit_event(
    actor,
    action: str,
    instance: models.Model,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """The event (unsaved) of an act on `instance`."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent(
        actor=user,
        actor_name=user.get_username() if user else (actor if isinstance(actor, str) else "system"),
        action=action,
        object_type=instance._meta.model_name,
        object_id=str(instance.pk or ""),
        object_repr=str(instance)[:200],
        before=before,
        after=after,
        **_origin(),
    )


def record_security_event(
    action: str,
    *,
    subject: str,
    actor=None,
    actor_name: str = "",
    object_id: str = "",
    details: dict | None = None,
) -> AuditEvent:
    """A sign-in, a failed one or a lockout, about the account named `subject` (a username).

    The account may not exist (failures name whatever username was typed), so the event
    names it rather than pointing at a model instance. `details` never holds a password.
    """
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=user,
        actor_name=(user.get_username() if user else actor_name)[:150],
        action=action,
        object_type="user",
        object_id=str(object_id)[:50],
        object_repr=subject[:200],
        after=json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder, default=str)),
        **_origin(),
    )


def _origin() -> dict:
    context = current_context()
    return {"source": context.source, "client_address": context.client_address}
