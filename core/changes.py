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

Many changes at once (a configuration file restoring thousands of resources) take the
bulk counterparts: validate_many() runs each model's rules in memory, with what the
rules would have read from the database given by the caller (the models' `clean_with`
functions, the same ones clean() calls), create_many() inserts in batches and writes one
audit event per resource in one go, changing_many() audits a change made to many
instances by one statement; the version moves once. What they skip is uniqueness,
which the caller guarantees (a file names each resource once) and the database's
constraints enforce in the end.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import models, transaction

from core.audit import audit_event, record_event, record_events, snapshot
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


# --- many at once --------------------------------------------------------------------

BATCH_SIZE = 1000

Invalid = list[tuple[models.Model, ValidationError]]


def validate_many(
    instances: Iterable[models.Model],
    rules: Callable[[models.Model], None] | None = None,
    *,
    exclude: Iterable[str] = (),
) -> Invalid:
    """full_clean() of each instance without its queries: the fields, then `rules` (the
    model's clean() unless given: a `clean_with` function fed from memory). Returns the
    instances that fail, each with its errors as full_clean() would raise them."""
    exclude = list(exclude) or None
    invalid = []
    for instance in instances:
        errors: dict = {}
        try:
            instance.clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        try:
            (rules or type(instance).clean)(instance)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            invalid.append((instance, ValidationError(errors)))
    return invalid


def create_many(
    instances: Sequence[models.Model],
    actor=None,
    *,
    related: Sequence[Mapping[str, Iterable]] | None = None,
    announce: bool | None = None,
) -> None:
    """Insert validated instances of one model (see validate_many) with bulk_create, set
    their many-to-many `related` fields (one mapping per instance), and audit each.

    `announce`: whether the data plane serves any of them, when the caller knows (the
    routes of an API just created are not served); None asks of each
    (core/config_signals.py), which may cost a query per instance.
    """
    if not instances:
        return
    model = type(instances[0])
    m2m = [field for field in model._meta.many_to_many]
    related = related or [{} for _ in instances]
    with transaction.atomic(), services_deciding():
        model._default_manager.bulk_create(instances, batch_size=BATCH_SIZE)
        for field in m2m:
            through = getattr(model, field.name).through
            source, target = field.m2m_column_name(), field.m2m_reverse_name()
            through.objects.bulk_create(
                (
                    through(**{source: instance.pk, target: item.pk})
                    for instance, values in zip(instances, related, strict=True)
                    for item in values.get(field.name, ())
                ),
                batch_size=BATCH_SIZE,
            )
        events, served = [], bool(announce)
        for instance, values in zip(instances, related, strict=True):
            after = snapshot(instance, {field.name: values.get(field.name, ()) for field in m2m})
            if announce is None and not served:
                served = is_proxy_change(instance, None, after)
            events.append(audit_event(actor, "create", instance, None, after))
        record_events(events)
        if served:
            bump_config_version()


@contextmanager
def changing_many(
    instances: Sequence[models.Model],
    actor,
    action: str,
    *,
    describe: Describe = snapshot,
    announce: bool = True,
) -> Iterator[None]:
    """changing() for a change made to many instances at once (activate several APIs
    with one UPDATE): one audit event each, the version moved once."""
    with transaction.atomic():
        before = [describe(instance) for instance in instances]
        yield
        record_events(
            [
                audit_event(actor, action, instance, old, describe(instance))
                for instance, old in zip(instances, before, strict=True)
            ]
        )
        if announce and instances:
            bump_config_version()


def _stored_snapshot(instance: models.Model) -> dict | None:
    if instance.pk is None:
        return None
    stored = type(instance)._default_manager.filter(pk=instance.pk).first()
    return snapshot(stored)


def _recorded(actor, action, instance, before, after, *, announce: bool) -> None:
    record_event(actor, action, instance, before, after)
    if announce:
        bump_config_version()
