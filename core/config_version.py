"""The config version: bumped on every gateway config change, read by every worker.

Workers compare it with the version of their in-memory route table at most every
GATEWAY_CONFIG_POLL_SECONDS and rebuild when it moved, so a change is live
everywhere within about a second without any worker querying the DB per request.

The database row is the truth; a shared cache (Redis) announces it so that many
nodes do not poll the database. A process-local cache announces nothing to other
processes (the two planes are separate processes), so without a shared cache the
version is read from the database itself.
"""

import logging
import uuid

from django.core.cache import cache
from django.db import transaction

from core.models import ConfigRevision
from core.shared_cache import cache_is_shared

CONFIG_VERSION_KEY = "gatekeep:config-version"
logger = logging.getLogger(__name__)


def bump_config_version() -> None:
    """Publish a new version once the surrounding transaction commits.

    Once per transaction: a change that saves many rows (an import, an apply) and the
    signals of those saves register several callbacks that share one batch, and only
    the first of the batch to run publishes.
    """
    connection = transaction.get_connection()
    batch = None
    if connection.in_atomic_block:
        pending = (getattr(callback, "batch", None) for _, callback, _ in connection.run_on_commit)
        batch = next((found for found in pending if found is not None), None)
    batch = batch if batch is not None else {"published": False}

    def publish() -> None:
        if not batch["published"]:
            batch["published"] = True
            _publish_new_version()

    publish.batch = batch
    transaction.on_commit(publish)


def _publish_new_version() -> None:
    version = uuid.uuid4().hex
    try:
        ConfigRevision.objects.update_or_create(pk=1, defaults={"version": version})
    except Exception:
        logger.warning("Could not record the config version in the database", exc_info=True)
    try:
        cache.set(CONFIG_VERSION_KEY, version, timeout=None)
    except Exception:  # the cache being down must not fail an admin change
        logger.warning(
            "Could not publish the config version; workers reload when the cache returns"
        )


def read_config_version() -> str | None:
    """The current version; None when neither the cache nor the database can say."""
    if cache_is_shared():
        try:
            version = cache.get(CONFIG_VERSION_KEY)
            if version is not None:
                return version
        except Exception:
            logger.warning("Cache unavailable while reading the config version", exc_info=True)
    version = _database_version()
    if version is not None and cache_is_shared():
        try:
            cache.add(CONFIG_VERSION_KEY, version, timeout=None)
        except Exception:
            logger.warning("Cache unavailable while announcing the config version")
    return version


def _database_version() -> str | None:
    try:
        revision, _ = ConfigRevision.objects.get_or_create(
            pk=1, defaults={"version": uuid.uuid4().hex}
        )
        return revision.version
    except Exception:
        logger.warning("Database unavailable while reading the config version", exc_info=True)
        return None
