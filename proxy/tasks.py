"""Celery beat's safety net for the config announcements (core/config_bus.py).

A Redis that restarted (it keeps nothing on disk) has lost the `current` pointer
and the snapshots; a writer that died between its commit and its announcement
left the pointer behind. Nodes with a database would catch up by polling it, but
a data-plane node without one only knows what Redis says: this task, run every
beat tick, puts the database's version and its snapshot back.
"""

from celery import shared_task
from django.conf import settings

from core import config_bus
from core.config_version import database_version, version_number


@shared_task(ignore_result=True)
def publish_current_config() -> str | None:
    if not settings.REDIS_URL:
        return None
    version = database_version()
    if version is None:
        return None
    number = version_number(version)
    if config_bus.announced_version() == version and config_bus.has_snapshot(number):
        return None
    config_bus.publish(version, number)  # compiles it first unless another process is
    return version
