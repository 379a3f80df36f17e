"""Django admin permissions come from the roles, as in the console and the REST API."""

from accounts import roles


class RoleAdminMixin:
    """Django admin permissions from accounts/roles.py, as the console and REST API ask.

    `role_actions` maps Django's admin verbs (view, add, change, delete, and any
    action's allowed_permissions name) to a roles.Action; an unmapped verb is refused.
    """

    role_actions: dict[str, roles.Action] = {}

    def role_allows(self, request, verb: str) -> bool:
        action = self.role_actions.get(verb)
        return action is not None and roles.can(request.user, action)

    def has_view_permission(self, request, obj=None) -> bool:
        return self.role_allows(request, "view") or self.has_change_permission(request, obj)

    def has_add_permission(self, request, *args) -> bool:
        return self.role_allows(request, "add")

    def has_change_permission(self, request, obj=None) -> bool:
        return self.role_allows(request, "change")

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.role_allows(request, "delete")
