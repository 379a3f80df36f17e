"""The config version: bumped on every gateway config change, read by every worker.

Workers compare it with the version of their in-memory route table at most every
GATEWAY_CONFIG_POLL_SECONDS and rebuild when it moved, so a change is live
everywhere within about a second without any worker querying the DB per request.
"""

import logging
import uuid

from django.core.cache import cache
from django.db import transaction

CONFIG_VERSION_KEY = "gatekeep:config-version"
logger = logging.getLogger(__name__)


def bump_config_version() -> None:
    """Publish a new version once the surrounding transaction commits."""
    transaction.on_commit(_publish_new_version)


def _publish_new_version() -> None:
    try:
        cache.set(CONFIG_VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:  # the cache being down must not fail an admin change
        logger.warning(
            "Could not publish the config version; workers reload when the cache returns"
        )


def read_config_version() -> str | None:
    """The shared version, creating one when the cache was emptied; None if the cache is down."""
    try:
        version = cache.get(CONFIG_VERSION_KEY)
        if version is None:
            version = uuid.uuid4().hex
            if not cache.add(CONFIG_VERSION_KEY, version, timeout=None):
                version = cache.get(CONFIG_VERSION_KEY)
        return version
    except Exception:
        logger.warning("Cache unavailable while reading the config version", exc_info=True)
        return None
