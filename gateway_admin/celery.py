"""Celery app: Redis broker when REDIS_URL is set, eager tasks otherwise."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")

app = Celery("gatekeep")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# One tick task fans out to the servers that are due, so each server keeps its
# own jwks_refresh_seconds without a beat entry per server.
app.conf.beat_schedule = {
    "refresh-due-jwks": {
        "task": "authservers.tasks.refresh_due_jwks",
        "schedule": float(os.environ.get("CELERY_BEAT_TICK_SECONDS", "30")),
    },
    # Rotation age comes from GATEWAY_SIGNING_KEY_ROTATION_DAYS; an hourly check is precise enough.
    "rotate-due-signing-keys": {
        "task": "authservers.tasks.rotate_due_signing_keys",
        "schedule": 3600.0,
    },
}
