"""Applications' client address lists in a configuration file, named by the application.

Allow and deny lists of addresses and CIDR networks checked once a call's token names the
application (policies/models.py ClientAddressPolicy; an API's own lists are in its
policy chain). Deny wins; a non-empty allow list admits only its networks.
"""

from configfile.kinds.base import Context, Kind, Scope, register
from configfile.kinds.references import application_instance, check_application, saved
from configfile.spec import Field, Obj
from policies import services
from policies.models import ClientAddressPolicy

ADDRESS_KEYS = ("allow", "deny")

SPEC = Obj(
    (
        Field("application", "string", "The application's name.", True, max_length=100),
        Field("allow", "strings", "Addresses or CIDR networks; empty admits every address."),
        Field("deny", "strings", "Addresses or CIDR networks refused (deny wins)."),
    ),
    "The client addresses one application's calls may come from.",
    name_of=lambda item: item["application"],
)


def as_item(policy: ClientAddressPolicy) -> dict:
    return {"application": policy.application.name, "allow": policy.allow, "deny": policy.deny}


@register
class ApplicationClientAddresses(Kind):
    key = "application_client_addresses"
    label = "application"
    order = 70
    spec = SPEC
    delete_first = True  # gone before an application the file prunes
    selective = False  # applications are not part of a selective (--api) file

    def name_of(self, item: dict) -> str:
        return item["application"]

    def in_scope(self, name, item, scope: Scope, context: Context) -> bool:
        return scope.everything

    def current(self, scope: Scope) -> dict[str, dict]:
        if not scope.everything:
            return {}
        policies = ClientAddressPolicy.objects.filter(application__isnull=False)
        return {p.application.name: as_item(p) for p in policies.select_related("application")}

    def desired(self, item: dict, where: str, context: Context) -> dict:
        return {"application": item["application"], **{k: item.get(k, []) for k in ADDRESS_KEYS}}

    def check(self, desired: dict[str, dict], context: Context) -> None:
        for name in desired:
            check_application(name, f"{self.where(name)}.application", context)

    # --- applying -----------------------------------------------------------------

    def create(self, name: str, item: dict, context: Context) -> None:
        application = application_instance(name, context)
        if application is not None:  # None: the application failed, and said why
            self._save(ClientAddressPolicy(application=application), name, item, context)

    def update(self, name: str, old: dict, new: dict, context: Context) -> None:
        policy = ClientAddressPolicy.objects.get(application__name=name)
        self._save(policy, name, new, context)

    def _save(self, policy: ClientAddressPolicy, name: str, item: dict, context: Context) -> None:
        policy.allow, policy.deny = item["allow"], item["deny"]
        saved(services.save_policy, policy, self.where(name), context)

    def delete(self, name: str, old: dict, context: Context) -> None:
        policy = ClientAddressPolicy.objects.filter(application__name=name).first()
        if policy is not None:
            services.delete_policy(policy, context.actor)
