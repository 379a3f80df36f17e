"""Celery app: Redis broker when REDIS_URL is set, eager tasks otherwise."""

import os
from pathlib import Path

from celery import Celery
from celery.beat import PersistentScheduler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")

app = Celery("gatekeep")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class StateDirScheduler(PersistentScheduler):
    """celery beat's file-backed scheduler, creating the directory its file lives in.

    The file (CELERY_BEAT_SCHEDULE_FILENAME) defaults to GATEWAY_STATE_DIR, outside the
    checkout, which may not exist yet on a fresh host.
    """

    def setup_schedule(self) -> None:
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()


app.conf.beat_scheduler = "gateway_admin.celery:StateDirScheduler"

# One tick task fans out to the servers that are due, so each server keeps its
# own jwks_refresh_seconds without a beat entry per server.
app.conf.beat_schedule = {
    "refresh-due-jwks": {
        "task": "authservers.tasks.refresh_due_jwks",
        "schedule": float(os.environ.get("CELERY_BEAT_TICK_SECONDS", "30")),
    },
    # Puts the config version and its snapshot back in Redis after a Redis restart, for
    # data-plane nodes without a database (proxy/tasks.py).
    "publish-current-config": {
        "task": "proxy.tasks.publish_current_config",
        "schedule": float(os.environ.get("CELERY_BEAT_TICK_SECONDS", "30")),
    },
    # Rotation age comes from GATEWAY_SIGNING_KEY_ROTATION_DAYS; an hourly check is precise enough.
    "rotate-due-signing-keys": {
        "task": "authservers.tasks.rotate_due_signing_keys",
        "schedule": 3600.0,
    },
    # Traffic analytics: the data plane's Redis counters into the database, then rollups.
    "ingest-traffic": {"task": "analytics.tasks.ingest_traffic", "schedule": 60.0},
    "roll-up-traffic": {"task": "analytics.tasks.roll_up_traffic", "schedule": 3600.0},
}
