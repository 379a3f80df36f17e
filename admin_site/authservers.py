from functools import partial

from django.contrib import admin, messages

from accounts.roles import Action
from admin_site.access import RoleAdminMixin
from admin_site.writes import ServiceAdminMixin
from apis.services import delete_server
from authservers import services
from authservers.keysets import refresh_jwks
from authservers.models import AuthorizationServer, JwksSnapshot, SigningKey
from authservers.signing import SigningKeyError, rotate_signing_key


class JwksSnapshotInline(RoleAdminMixin, admin.StackedInline):
    model = JwksSnapshot
    can_delete = False
    readonly_fields = ("key_ids", "fetched_at", "etag", "expires_at", "last_error", "last_error_at")
    fields = readonly_fields
    extra = 0
    role_actions = {"view": Action.VIEW_SERVERS}


class SigningKeyInline(RoleAdminMixin, admin.TabularInline):
    """The internal issuer's keys, read-only; the private half is never rendered."""

    model = SigningKey
    fields = ("kid", "alg", "state", "created_at", "activated_at", "retired_at", "published_until")
    readonly_fields = fields
    can_delete = False
    extra = 0
    max_num = 0
    # Read-only: keys change through rotation and revocation only.
    role_actions = {"view": Action.VIEW_SERVERS}


@admin.register(AuthorizationServer)
class AuthorizationServerAdmin(ServiceAdminMixin, RoleAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "issuer", "key_ids", "fetched_at", "last_error")
    list_filter = ("kind",)
    search_fields = ("name", "issuer")
    inlines = [JwksSnapshotInline, SigningKeyInline]  # read-only
    save_resource = staticmethod(services.save_server)
    # The admin's delete confirmation lists what goes; active APIs that trust the server
    # are deactivated with it, audited, rather than left failing every call.
    delete_resource = staticmethod(partial(delete_server, deactivate_apis=True))
    actions = ["refresh_keys", "rotate_signing_keys"]
    role_actions = {
        "view": Action.VIEW_SERVERS,
        "add": Action.CREATE_SERVERS,
        "change": Action.CHANGE_SERVERS,
        "delete": Action.DELETE_SERVERS,
        "refresh": Action.REFRESH_KEYS,
        "rotate": Action.ROTATE_SIGNING_KEYS,
    }

    def has_refresh_permission(self, request) -> bool:
        return self.role_allows(request, "refresh")

    def has_rotate_permission(self, request) -> bool:
        return self.role_allows(request, "rotate")

    @admin.display(description="Key ids")
    def key_ids(self, server) -> str:
        snapshot = getattr(server, "jwks_snapshot", None)
        return ", ".join(snapshot.key_ids) if snapshot else "—"

    @admin.display(description="Last fetch")
    def fetched_at(self, server):
        snapshot = getattr(server, "jwks_snapshot", None)
        return snapshot.fetched_at if snapshot else None

    @admin.display(description="Last error")
    def last_error(self, server) -> str:
        snapshot = getattr(server, "jwks_snapshot", None)
        return snapshot.last_error[:80] if snapshot else ""

    @admin.action(description="Refresh keys now", permissions=["refresh"])
    def refresh_keys(self, request, queryset) -> None:
        for server in queryset:
            outcome = refresh_jwks(server)
            level = messages.SUCCESS if outcome.ok else messages.ERROR
            text = f"{server}: keys {', '.join(outcome.key_ids) or 'none'}"
            self.message_user(
                request, text + (f" ({outcome.error})" if outcome.error else ""), level
            )

    @admin.action(description="Rotate signing key (internal servers)", permissions=["rotate"])
    def rotate_signing_keys(self, request, queryset) -> None:
        for server in queryset:
            try:
                key = rotate_signing_key(server, request.user)
            except SigningKeyError as exc:
                self.message_user(request, f"{server}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{server}: {key.kid} signs now.", messages.SUCCESS)
