"""The one write path: every change to a resource is validated, written, audited and announced here.

Services of each app (apis/services.py, applications/services.py,
authservers/services.py, ...) describe *what* a change is; this module makes every
change the same way, whoever asks (REST, console, Django admin, management commands,
demo data):

1. the model's full_clean(), so clean() is the one home of each rule;
2. the write, in one transaction with everything else below;
3. one AuditEvent with the before/after snapshots;
4. a config-version bump, published once the transaction commits, so workers rebuild:
   only when the data plane can see the change (core/config_signals.py: a description
   edit or an inactive API's edit is audited without moving the version).

Side effects outside the database (a key fetch, a cache announcement) belong in
transaction.on_commit(), so a rolled-back change leaves nothing behind.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager

from django.db import models, transaction

from core.audit import record_event, snapshot
from core.config_signals import is_proxy_change, services_deciding
from core.config_version import bump_config_version

Describe = Callable[[models.Model], dict | None]


def save(
    instance: models.Model,
    actor=None,
    *,
    related: Mapping[str, Iterable] | None = None,
    action: str | None = None,
    exclude: Iterable[str] = (),
) -> models.Model:
    """Create or update `instance` (and set its many-to-many `related` fields)."""
    with transaction.atomic(), services_deciding():
        before = _stored_snapshot(instance)
        instance.full_clean(exclude=list(exclude) or None)
        instance.save()
        for name, values in (related or {}).items():
            getattr(instance, name).set(values)
        verb = action or ("update" if before is not None else "create")
        after = snapshot(instance)
        announce = is_proxy_change(instance, before, after)
        _recorded(actor, verb, instance, before, after, announce=announce)
    return instance


def delete(instance: models.Model, actor=None) -> None:
    with transaction.atomic(), services_deciding():
        before = snapshot(instance)
        announce = is_proxy_change(instance, before, None)
        _recorded(actor, "delete", instance, before, None, announce=announce)
        instance.delete()


@contextmanager
def changing(
    instance: models.Model,
    actor,
    action: str,
    *,
    describe: Describe = snapshot,
    announce: bool = True,
) -> Iterator[None]:
    """A change that is more than a field save (activate an API, rotate a key).

    The body makes the change; `describe` gives the before/after the audit keeps
    (a snapshot of the instance unless the change is better told another way).
    `announce=False` for changes no data-plane worker reads (a user's role).
    """
    with transaction.atomic():
        before = describe(instance) if instance.pk is not None else None
        yield
        _recorded(actor, action, instance, before, describe(instance), announce=announce)


def record(
    actor,
    action: str,
    instance: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    *,
    announce: bool = False,
) -> None:
    """Audit an act the caller performed in its own transaction: a test token issued,
    grants revoked, keys made or rotated. `announce` when workers must re-read config."""
    _recorded(actor, action, instance, before, after, announce=announce)


def _stored_snapshot(instance: models.Model) -> dict | None:
    if instance.pk is None:
        return None
    stored = type(instance)._default_manager.filter(pk=instance.pk).first()
    return snapshot(stored)


def _recorded(actor, action, instance, before, after, *, announce: bool) -> None:
    record_event(actor, action, instance, before, after)
    if announce:
        bump_config_version()
