"""Applications in a configuration file, named by their `name`; their APIs by base path.

`client_id` is kept when given (so clients configured elsewhere keep working) and fixed
once the application exists. The secret is a reference (configfile/secrets.py) or left
out: a new application then gets a generated one, shown once by apply.
"""

from collections import defaultdict

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError

from applications import services
from applications.choices import ApplicationStatus, ClientType, GrantType, default_grant_types
from applications.models import Application
from configfile.kinds.base import Context, Kind, Scope, defaults_of, register
from configfile.secrets import Secret, SecretUnavailable, resolve
from configfile.spec import Field, Obj

KEYS = (
    "description",
    "status",
    "identifying_claims",
    "custom_claims",
    "client_type",
    "grant_types",
    "redirect_uris",
    "allowed_scopes",
)

SPEC = Obj(
    (
        Field("name", "string", "The application's unique name.", True, max_length=100),
        Field("description", "string"),
        Field("status", "string", enum=tuple(ApplicationStatus.values)),
        Field(
            "identifying_claims",
            "string_map",
            "Claims that must all match the token, e.g. {client_id: abc}.",
        ),
        Field("custom_claims", "string_map", "Extra claims in tokens the internal issuer signs."),
        Field("apis", "strings", "Base paths of the APIs it may call."),
        Field("client_type", "string", enum=tuple(ClientType.values)),
        Field("grant_types", "strings", f"Any of {', '.join(GrantType.values)}."),
        Field("redirect_uris", "strings"),
        Field("allowed_scopes", "strings"),
        Field("client_id", "string", "OAuth2 client id; generated when left out.", max_length=100),
        Field(
            "client_secret",
            "secret",
            "{env: NAME}, {file: path} or {hash: ...}; generated when left out.",
        ),
    ),
    "A client of the gateway, recognised by claims its tokens carry.",
    name_of=lambda item: item["name"],
)


def as_item(
    application: Application, *, secret_hashes: bool = False, apis: list[str] | None = None
) -> dict:
    """The application as a file item; `apis`: its APIs' base paths, when read already."""
    item = {"name": application.name}
    item.update({key: getattr(application, key) for key in KEYS})
    item["identifying_claims"] = dict(sorted(application.identifying_claims.items()))
    item["custom_claims"] = dict(sorted(application.custom_claims.items()))
    if apis is None:
        apis = [api.base_path for api in application.apis.all()]
    item["apis"] = sorted(apis)
    client = application.oauth_client
    item["client_id"] = client.client_id if client else ""
    if secret_hashes and client is not None and not application.is_public:
        item["client_secret"] = {"hash": client.client_secret}
    return item


@register
class Applications(Kind):
    key = "applications"
    label = "application"
    order = 30
    spec = SPEC
    delete_first = True
    selective = False

    def in_scope(self, name, item, scope: Scope, context: Context) -> bool:
        # A selective apply covers one API and what it depends on; applications depend
        # on APIs, not the other way round.
        return scope.everything

    def current(self, scope: Scope) -> dict[str, dict]:
        if not scope.everything:
            return {}
        # The associations in one query of plain rows: a prefetch would build a queryset
        # per application (most of an export's time with 10,000 of them).
        apis: dict[int, list[str]] = defaultdict(list)
        for application_id, base_path in Application.apis.through.objects.values_list(
            "application_id", "api__base_path"
        ):
            apis[application_id].append(base_path)
        return {
            app.name: as_item(app, secret_hashes=scope.secret_hashes, apis=apis[app.pk])
            for app in Application.objects.select_related("oauth_client").only(
                "name", *KEYS, "oauth_client__client_id", "oauth_client__client_secret"
            )
        }

    def desired(self, item: dict, where: str, context: Context) -> dict:
        defaults = defaults_of(Application, KEYS)
        result = {"name": item["name"]}
        result.update({key: item.get(key, defaults[key]) for key in KEYS})
        if "grant_types" not in item:
            result["grant_types"] = default_grant_types(
                result["client_type"], result["redirect_uris"]
            )
        result["identifying_claims"] = dict(sorted(result["identifying_claims"].items()))
        result["custom_claims"] = dict(sorted(result["custom_claims"].items()))
        result["apis"] = sorted(set(item.get("apis", [])))
        result["client_id"] = item.get("client_id")  # None: keep, or generate
        if "client_secret" in item:
            if result["client_type"] == ClientType.PUBLIC:
                context.problem(f"{where}.client_secret", "A public client has no secret.")
            else:
                result["client_secret"] = item["client_secret"]
        return result

    def check(self, desired: dict[str, dict], context: Context) -> None:
        apis = context.final_names.get("apis", set())
        client_ids: dict[str, str] = {}
        for name, item in desired.items():
            for base_path in item["apis"]:
                if base_path not in apis:
                    context.problem(
                        f"{self.where(name)}.apis",
                        f"No API with the base path {base_path!r} in the file or the gateway.",
                    )
            if "client_secret" in item:
                self._secret(name, item["client_secret"], context)  # unreadable: a problem
            client_id = item["client_id"]
            if client_id:
                other = client_ids.setdefault(client_id, name)
                if other != name:
                    context.problem(
                        f"{self.where(name)}.client_id",
                        f"The application {other!r} has the same client_id.",
                    )

    def changed_fields(self, old: dict, new: dict, context: Context) -> list[tuple]:
        changed = []
        for name, value in new.items():
            if name == "client_id":
                if value is not None and value != old.get("client_id"):
                    changed.append((name, old.get("client_id"), value))
            elif name == "client_secret":
                if not self._secret_matches(old["name"], value, context):
                    changed.append((name, "(secret)", "(new secret)"))
            elif old.get(name) != value:
                changed.append((name, old.get(name), value))
        return changed

    def _secret(self, name: str, reference: dict, context: Context) -> Secret | None:
        try:
            return resolve(reference, context.base_dir, local=context.local)
        except SecretUnavailable as exc:
            context.problem(f"{self.where(name)}.client_secret", str(exc))
            return None

    def _secret_matches(self, name: str, reference: dict, context: Context) -> bool:
        # A password-hash check is slow on purpose: once per application and run.
        key = ("secret-matches", name)
        if key not in context.memo:
            context.memo[key] = self._check_secret(name, reference, context)
        return context.memo[key]

    def _check_secret(self, name: str, reference: dict, context: Context) -> bool:
        secret = self._secret(name, reference, context)
        if secret is None:
            return True  # reported; not a change
        if "stored-secrets" not in context.memo:  # one query for every application
            context.memo["stored-secrets"] = dict(
                Application.objects.values_list("name", "oauth_client__client_secret")
            )
        client = context.memo["stored-secrets"].get(name)
        if not client:
            return False
        if secret.hashed is not None:
            return secret.hashed == client
        return check_password(secret.plain, client)

    # --- applying -----------------------------------------------------------------

    def load_instances(self, context: Context) -> None:
        applications = Application.objects.select_related("oauth_client")
        context.instances[self.key] = {app.name: app for app in applications}

    def _apis(self, item: dict, context: Context) -> list:
        stored = context.instances["apis"]
        return [stored[base_path] for base_path in item["apis"] if base_path in stored]

    def create(self, name: str, item: dict, context: Context) -> None:
        self.create_many([(name, item)], context)

    def create_many(self, items: list[tuple[str, dict]], context: Context) -> None:
        new, names = [], {}
        for name, item in items:
            secret = None
            if "client_secret" in item:
                secret = self._secret(name, item["client_secret"], context)
                if secret is None:
                    continue
            application = Application(name=name, **{key: item[key] for key in KEYS})
            new.append(
                services.NewApplication(
                    application,
                    apis=self._apis(item, context),
                    client_id=item["client_id"] or None,
                    client_secret=(secret.plain or secret.hashed) if secret else None,
                )
            )
            names[id(application)] = name
        invalid = services.create_applications(new, context.actor)
        for instance, exc in invalid:
            context.model_errors(self.where(names[id(instance)]), exc)
        if invalid:
            return
        for item in new:
            name = item.application.name
            context.instances[self.key][name] = item.application
            if item.plain_secret is not None:
                context.generated.append((name, item.application.client_id, item.plain_secret))

    def update(self, name: str, old: dict, new: dict, context: Context) -> None:
        application = context.instances[self.key][name]
        changed = {field for field, _, _ in self.changed_fields(old, new, context)}
        if "client_id" in changed:
            context.problem(
                f"{self.where(name)}.client_id",
                f"The client_id of an existing application cannot change (it is "
                f"{old['client_id']!r}); delete the application to give it a new one.",
            )
            return
        fields = {key: new[key] for key in KEYS if key in changed}
        if fields or "apis" in changed:
            try:
                services.update_application(
                    application,
                    context.actor,
                    apis=self._apis(new, context) if "apis" in changed else None,
                    **fields,
                )
            except ValidationError as exc:
                context.model_errors(self.where(name), exc)
                return
        if "client_secret" in changed:
            secret = self._secret(name, new["client_secret"], context)
            if secret is not None:
                try:
                    services.rotate_secret(
                        application, context.actor, secret.plain or secret.hashed
                    )
                except ValidationError as exc:
                    context.model_errors(f"{self.where(name)}.client_secret", exc)

    def delete(self, name: str, old: dict, context: Context) -> None:
        services.delete_application(context.instances[self.key][name], context.actor)
