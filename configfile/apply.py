"""Making the gateway look like a file: all of it in one transaction, or none of it.

Every change goes through the resources' services (apis/, applications/, authservers/
services.py → core/changes.py), as for the REST API and the console: each resource's
rules, one audit event per change, and one config-version bump for the whole apply
(core/config_version.py batches the bumps of one transaction). One more audit event
records the apply itself. A file that changes nothing writes nothing.

Kind by kind, updates come first, then all of the kind's creations at once: APIs (with
their routes and policies) and applications through their bulk services (create_apis,
create_applications: the same rules, checked in memory, rows inserted in batches), so a
restore of thousands of resources costs a few queries per batch rather than a dozen per
resource. The activation checks of every API the file has active run once, at the end
(configfile/activation.py), when the API's chain is in too.

Concurrency: the apply first locks the config-version row, which every configuration
change moves inside its own transaction, so admins' edits through REST or the console
wait for the apply (or the apply waits for them) and the plan is made from a state no
one else changes meanwhile. The apply wins whole or fails whole.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from django.db import DatabaseError, transaction

from configfile import activation
from configfile.kinds import REGISTRY, Context
from configfile.loading import load
from configfile.plan import Plan, make_plan
from configfile.problems import ConfigInvalid
from core import audit_context, changes
from core.audit_context import Source
from core.db import is_write_conflict
from core.models import ConfigRevision


class ApplyConflict(Exception):
    """A concurrent change got in the way (a deadlock or serialisation failure); nothing
    of the apply was kept: run it again."""


@dataclass
class Result:
    plan: Plan
    applied: bool
    dry_run: bool
    generated: list[tuple[str, str, str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            **self.plan.as_dict(),
            "applied": self.applied,
            "dry_run": self.dry_run,
            "generated_secrets": [
                {"application": name, "client_id": client_id, "client_secret": secret}
                for name, client_id, secret in self.generated
            ],
        }


def diff(
    text: str | bytes,
    *,
    prune: bool = False,
    api_names: list[str] | None = None,
    base_dir: Path | None = None,
    local: bool = True,
) -> Plan:
    """What apply would change (ConfigInvalid when the file cannot be applied)."""
    loaded = load(text)
    context = Context(prune=prune, base_dir=base_dir, local=local)
    return make_plan(loaded, context, api_names)


def apply(
    text: str | bytes,
    *,
    actor=None,
    prune: bool = False,
    dry_run: bool = False,
    api_names: list[str] | None = None,
    base_dir: Path | None = None,
    local: bool = True,
) -> Result:
    """Apply the file. ConfigInvalid: nothing changed, every problem listed."""
    loaded = load(text)
    context = Context(actor=actor, prune=prune, base_dir=base_dir, local=local)
    origin = audit_context.current()
    try:
        # Every event of the apply says it came from a config apply (the caller's address kept).
        with (
            audit_context.audit_source(Source.CONFIG_APPLY, origin.client_address),
            transaction.atomic(),
        ):
            _lock_configuration()
            plan = make_plan(loaded, context, api_names)
            if plan.empty:
                return Result(plan, applied=False, dry_run=dry_run)
            _execute(plan, context)
            if context.problems:
                raise ConfigInvalid(context.problems)
            _record_apply(plan, context, text)
            if dry_run:
                transaction.set_rollback(True)
    except DatabaseError as exc:
        if is_write_conflict(exc):
            raise ApplyConflict(
                "A concurrent change to the configuration conflicted with this apply; "
                "nothing was changed. Run it again."
            ) from exc
        raise
    # A dry run's generated secrets were rolled back with everything else: never shown.
    generated = [] if dry_run else context.generated
    return Result(plan, applied=not dry_run, dry_run=dry_run, generated=generated)


def _lock_configuration() -> None:
    ConfigRevision.objects.get_or_create(pk=1, defaults={"version": "0"})
    ConfigRevision.objects.select_for_update().filter(pk=1).first()


def _execute(plan: Plan, context: Context) -> None:
    for kind in REGISTRY:
        kind.load_instances(context)
    deletes = [c for c in plan.changes if c.action == "delete"]
    early = [c for c in deletes if c.kind.delete_first]
    late = [c for c in deletes if not c.kind.delete_first]
    # Applications let go of APIs before the APIs go; servers go once no policy names them.
    for change in sorted(early, key=lambda c: -c.kind.order):
        change.kind.delete(change.name, change.old, context)
    for kind in REGISTRY:
        for change in plan.changes:
            if change.kind is kind and change.action == "update":
                kind.update(change.name, change.old, change.new, context)
        created = [(c.name, c.new) for c in plan.changes if c.kind is kind and c.action == "create"]
        if created:
            kind.create_many(created, context)
    activation.activate(context)
    for change in sorted(late, key=lambda c: -c.kind.order):
        change.kind.delete(change.name, change.old, context)


def _record_apply(plan: Plan, context: Context, text: str | bytes) -> None:
    raw = text.encode() if isinstance(text, str) else text
    revision = ConfigRevision.objects.get(pk=1)
    changes.record(
        context.actor,
        "apply-config",
        revision,
        None,
        {
            "sha256": hashlib.sha256(raw).hexdigest(),
            "prune": context.prune,
            "scope": sorted(context.scope.apis) if context.scope.apis is not None else "all",
            **plan.counts(),
            "changes": [change.where for change in plan.changes][:1000],
        },
    )
