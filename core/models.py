from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One configuration change: who did what to which object, with before/after."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=50)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=50, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Where the change came from (core/audit_context.py: console, rest, admin, config-apply,
    # shell, command, system) and the client's address; empty on events older than both.
    source = models.CharField(max_length=20, blank=True, default="")
    client_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # One object's history (an API's History tab, the audit log's object filter),
        # newest first, without walking the whole log.
        indexes = [
            models.Index(
                fields=["object_type", "object_id", "-created_at"], name="audit_object_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.actor_name or 'system'} {self.action} {self.object_type} {self.object_repr}"


class ConfigRevision(models.Model):
    """One row: the version of the gateway configuration, moved by every change.

    Workers poll it (through the shared cache when there is one) and rebuild their
    compiled config when it moves; see core/config_version.py.
    """

    version = models.CharField(max_length=32)
    # Moved by one in the transaction of every change: versions are ordered, so a worker
    # never goes back to an older one (core/config_version.py).
    number = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.number}.{self.version}"
