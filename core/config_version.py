"""The config version: moved by every gateway config change, followed by every worker.

A version is "<number>.<hash>": the number is a counter of the ConfigRevision row,
incremented in the same transaction as the change (UPDATE ... SET number = number + 1),
so versions are ordered and a worker never goes back to an older one.

The database row is the truth. With a shared cache (Redis), the committing process
also announces the version at once (core/config_bus.py: a `current` pointer that
only moves forward, and a pub/sub message every data-plane worker listens to), and
workers poll the pointer every GATEWAY_CONFIG_POLL_SECONDS as the safety net.
Without a shared cache, or while Redis is down, the version is read from the
database itself.
"""

import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import F

from core import config_bus
from core.models import ConfigRevision

logger = logging.getLogger(__name__)


def version_number(version: str | None) -> int:
    """The order of a version; -1 for none or one that is not "<number>.<hash>"."""
    if not version:
        return -1
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else -1


def bump_config_version() -> None:
    """Move the version in the surrounding transaction; announce it once that commits.

    Once per transaction: a change that saves many rows (an import, an apply) and the
    signals of those saves share one batch; only the first call of the batch moves the
    counter, and the announcement runs once, after the commit.
    """
    connection = transaction.get_connection()
    batch = None
    if connection.in_atomic_block:
        pending = (getattr(callback, "batch", None) for _, callback, _ in connection.run_on_commit)
        # A batch whose announcement already ran (tests run captured callbacks inside one
        # long transaction) is over: the next change is a new version.
        batch = next((b for b in pending if b is not None and not b["published"]), None)
    if batch is not None:
        return
    batch = {"version": _next_version(), "published": False}

    def publish() -> None:
        if not batch["published"]:
            batch["published"] = True
            config_bus.publish(batch["version"], version_number(batch["version"]))

    publish.batch = batch
    transaction.on_commit(publish)


def _next_version() -> str:
    """Increment the counter of the one ConfigRevision row (locked until the commit)."""
    digest = uuid.uuid4().hex
    with transaction.atomic():
        moved = ConfigRevision.objects.filter(pk=1).update(number=F("number") + 1, version=digest)
        if not moved:
            ConfigRevision.objects.get_or_create(pk=1, defaults={"version": digest, "number": 0})
            ConfigRevision.objects.filter(pk=1).update(number=F("number") + 1, version=digest)
        number = ConfigRevision.objects.filter(pk=1).values_list("number", flat=True).get()
    return f"{number}.{digest}"


def read_config_version() -> str | None:
    """The current version; None when neither the shared cache nor the database can say."""
    version = config_bus.announced_version()
    if version is not None:
        return version
    version = database_version()
    if version is not None:
        config_bus.announce_if_newer(version, version_number(version))
    return version


def database_version() -> str | None:
    if not settings.GATEWAY_HAS_DATABASE:
        return None  # a data-plane node without a database: Redis says
    try:
        revision, _ = ConfigRevision.objects.get_or_create(
            pk=1, defaults={"version": uuid.uuid4().hex}
        )
        return f"{revision.number}.{revision.version}"
    except Exception:
        logger.warning("Database unavailable while reading the config version", exc_info=True)
        return None
