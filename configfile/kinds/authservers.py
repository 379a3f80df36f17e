"""Authorization servers in a configuration file, named by their `name`.

Internal servers get their signing keys when they are created (authservers/services.py);
private keys never leave the database, so the file has none.
"""

from django.core.exceptions import ValidationError

from apis.services import ServerInUse, delete_server
from authservers.choices import SUPPORTED_ALGORITHMS, ServerKind
from authservers.fields import SERVER_FIELDS
from authservers.models import AuthorizationServer
from authservers.services import save_server
from configfile.kinds.base import Context, Kind, Scope, defaults_of, register
from configfile.spec import Field, Obj

FIELDS = tuple(name for name in SERVER_FIELDS if name != "name")

SPEC = Obj(
    (
        Field(
            "name", "string", "The server's unique name; policies name it.", True, max_length=100
        ),
        Field(
            "kind",
            "string",
            "internal: this gateway; external: an OpenID provider.",
            enum=tuple(ServerKind.values),
        ),
        Field("issuer", "string", "Must equal the tokens' iss claim exactly.", max_length=500),
        Field(
            "discovery_url",
            "string",
            "Defaults to the issuer's OpenID discovery document.",
            max_length=500,
        ),
        Field("jwks_uri", "string", "Set it to skip discovery.", max_length=500),
        Field(
            "public_certificate",
            "string",
            "PEM certificate or public key, for issuers without a JWKS (public data).",
        ),
        Field("allowed_algorithms", "strings", f"Any of {', '.join(SUPPORTED_ALGORITHMS)}."),
        Field(
            "required_typ", "string", "Required JOSE typ header; empty accepts any.", max_length=50
        ),
        Field("leeway_seconds", "integer"),
        Field("jwks_refresh_seconds", "integer"),
        Field("max_stale_seconds", "integer"),
        Field("token_lifetime_seconds", "integer", "Internal servers: access token lifetime."),
        Field("default_audience", "string", max_length=200),
    ),
    "An authorization server whose tokens APIs may trust.",
    name_of=lambda item: item["name"],
)


def as_item(server: AuthorizationServer) -> dict:
    return {"name": server.name, **{name: getattr(server, name) for name in FIELDS}}


@register
class AuthorizationServers(Kind):
    key = "authorization_servers"
    label = "authorization server"
    order = 10
    spec = SPEC

    def in_scope(self, name, item, scope: Scope, context: Context) -> bool:
        # A selective apply covers the servers its APIs' policies name.
        return scope.everything or name in (scope.servers or ())

    def current(self, scope: Scope) -> dict[str, dict]:
        servers = AuthorizationServer.objects.order_by("name")
        if scope.servers is not None:
            servers = servers.filter(name__in=scope.servers)
        elif not scope.everything:
            servers = servers.filter(policies__api__base_path__in=scope.apis).distinct()
        return {server.name: as_item(server) for server in servers}

    def desired(self, item: dict, where: str, context: Context) -> dict:
        kind = item.get("kind", ServerKind.EXTERNAL)
        defaults = defaults_of(AuthorizationServer, FIELDS)
        defaults["kind"] = kind
        return {"name": item["name"], **{name: item.get(name, defaults[name]) for name in FIELDS}}

    def load_instances(self, context: Context) -> None:
        context.instances[self.key] = {s.name: s for s in AuthorizationServer.objects.all()}

    def create(self, name: str, item: dict, context: Context) -> None:
        server = AuthorizationServer(**item)
        self._save(server, name, context)

    def update(self, name: str, old: dict, new: dict, context: Context) -> None:
        server = context.instances[self.key][name]
        for field in FIELDS:
            setattr(server, field, new[field])
        self._save(server, name, context)

    def _save(self, server: AuthorizationServer, name: str, context: Context) -> None:
        try:
            save_server(server, context.actor)
        except ValidationError as exc:
            context.model_errors(self.where(name), exc)
            return
        context.instances[self.key][name] = server

    def delete(self, name: str, old: dict, context: Context) -> None:
        server = context.instances[self.key][name]
        try:
            delete_server(server, context.actor)
        except ServerInUse as exc:
            context.problem(self.where(name), str(exc))
