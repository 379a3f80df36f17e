"""APIs in a configuration file, with their routes and policy, named by their base path.

The base path is an API's stable name: it is unique, it is where clients call the API,
and the API's display name may repeat across versions. A route is named by its method
and path template (`GET /pets/{id}`); the routes listed are all the API has, so a route
left out of the file is removed from the API.
"""

from django.core.exceptions import ValidationError
from django.db.models import Prefetch

from apis import services
from apis.choices import ApiKind, ApiStatus, HttpMethod, IdentitySource
from apis.fields import API_FIELDS
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.paths import normalize_base_path, normalize_route_template, route_shape
from authservers.models import AuthorizationServer
from configfile.kinds.base import Context, Kind, Scope, defaults_of, register
from configfile.spec import Field, ListOf, Obj
from core import changes

API_KEYS = tuple(name for name in API_FIELDS if name != "base_path")
POLICY_KEYS = (
    "identity_source",
    "identity_name",
    "audiences",
    "required_scopes",
    "allow_anonymous",
    "forward_claims",
    "forward_authorization",
)

ROUTE = Obj(
    (
        Field("method", "string", "GET, POST, ... or ANY.", enum=tuple(HttpMethod.values)),
        Field("path", "string", "Template: /pets/{id}, /files/{path+}.", True, max_length=500),
        Field("required_scopes", "strings", "Scopes needed besides the policy's."),
        Field("anonymous", "boolean", "A public route: no token needed."),
    ),
    "One method and path template of the API.",
    name_of=lambda item: f"{item.get('method', 'ANY')} {item['path']}",
)

POLICY = Obj(
    (
        Field("authorization_servers", "strings", "Names of the servers whose tokens it trusts."),
        Field("identity_source", "string", enum=tuple(IdentitySource.values)),
        Field(
            "identity_name",
            "string",
            "Header, query parameter or cookie carrying the token.",
            max_length=100,
        ),
        Field("audiences", "strings", "The token's aud must contain one of these."),
        Field("required_scopes", "strings", "Scopes every call needs."),
        Field("allow_anonymous", "boolean"),
        Field("forward_claims", "string_map", "Claims sent upstream as headers: {sub: X-User}."),
        Field("forward_authorization", "boolean"),
    ),
    'The "Identify and authorize application" policy.',
)

SPEC = Obj(
    (
        Field(
            "base_path",
            "string",
            "Where the API is published; its name in this file.",
            True,
            max_length=300,
        ),
        Field("name", "string", required=True, max_length=100),
        Field("version", "string", max_length=50),
        Field("upstream_url", "string", required=True, max_length=500),
        Field("kind", "string", enum=tuple(ApiKind.values)),
        Field(
            "status",
            "string",
            "active: served (after the activation checks).",
            enum=tuple(ApiStatus.values),
        ),
        Field("connect_timeout", "number"),
        Field("read_timeout", "number"),
        Field("description", "string"),
        Field("policy", POLICY, "Left out: the API has no policy.", nullable=True),
        Field("routes", ListOf(ROUTE, max_items=1000)),
    ),
    "An API published through the gateway, with its routes and policy.",
    name_of=lambda item: item["base_path"],
)


def route_name(route: dict) -> str:
    return f"{route['method']} {route['path']}"


def route_item(route: Route) -> dict:
    return {
        "method": route.method,
        "path": route.path,
        "required_scopes": route.required_scopes,
        "anonymous": route.anonymous,
    }


def policy_item(policy: IdentifyAndAuthorizePolicy) -> dict:
    servers = sorted(server.name for server in policy.authorization_servers.all())
    item = {
        "authorization_servers": servers,
        **{name: getattr(policy, name) for name in POLICY_KEYS},
    }
    item["forward_claims"] = dict(sorted(policy.forward_claims.items()))
    return item


def as_item(api: Api) -> dict:
    try:
        policy = policy_item(api.policy)
    except IdentifyAndAuthorizePolicy.DoesNotExist:
        policy = None
    item = {"base_path": api.base_path}
    item.update({name: getattr(api, name) for name in API_KEYS})
    item["status"] = api.status
    item["policy"] = policy
    routes = sorted(api.routes.all(), key=lambda r: (r.path, r.method))
    item["routes"] = [route_item(route) for route in routes]
    return item


def _stored_apis():
    return Api.objects.select_related("policy").prefetch_related(
        "routes",
        Prefetch("policy__authorization_servers", AuthorizationServer.objects.only("name")),
    )


@register
class Apis(Kind):
    key = "apis"
    label = "API"
    order = 20
    spec = SPEC
    delete_first = True

    def name_of(self, item: dict) -> str:
        return item["base_path"]

    def in_scope(self, name, item, scope: Scope, context: Context) -> bool:
        return scope.everything or name in scope.apis

    def current(self, scope: Scope) -> dict[str, dict]:
        apis = _stored_apis()
        if not scope.everything:
            apis = apis.filter(base_path__in=scope.apis)
        return {api.base_path: as_item(api) for api in apis}

    def desired(self, item: dict, where: str, context: Context) -> dict | None:
        try:
            base_path = normalize_base_path(item["base_path"])
        except ValidationError as exc:
            context.problem(f"{where}.base_path", " ".join(exc.messages))
            return None
        defaults = defaults_of(Api, API_KEYS)
        result = {"base_path": base_path}
        result.update({name: item.get(name, defaults[name]) for name in API_KEYS})
        for name in ("connect_timeout", "read_timeout"):
            result[name] = float(result[name])
        result["status"] = item.get("status", ApiStatus.INACTIVE)
        policy = item.get("policy")
        if policy is not None:
            policy_defaults = defaults_of(IdentifyAndAuthorizePolicy, POLICY_KEYS)
            policy = {
                "authorization_servers": sorted(set(policy.get("authorization_servers", []))),
                **{name: policy.get(name, policy_defaults[name]) for name in POLICY_KEYS},
            }
            policy["forward_claims"] = dict(sorted(policy["forward_claims"].items()))
        result["policy"] = policy
        result["routes"] = self._routes(item.get("routes", []), where, context)
        return result

    def _routes(self, routes: list, where: str, context: Context) -> list[dict]:
        seen: dict[tuple, str] = {}
        result = []
        for index, route in enumerate(routes):
            at = f"{where}.routes[{route.get('method', 'ANY')} {route['path']}]"
            try:
                path = normalize_route_template(route["path"])
                shape = route_shape(path)
            except ValidationError as exc:
                context.problem(f"{at}.path", " ".join(exc.messages))
                continue
            method = route.get("method", HttpMethod.ANY)
            other = seen.get((method, shape))
            if other is not None:
                context.problem(
                    at,
                    f"Matches the same requests as {method} {other} (route #{index + 1}); "
                    "give each method and path once.",
                )
                continue
            seen[(method, shape)] = path
            result.append(
                {
                    "method": method,
                    "path": path,
                    "required_scopes": route.get("required_scopes", []),
                    "anonymous": route.get("anonymous", False),
                }
            )
        result.sort(key=lambda r: (r["path"], r["method"]))
        return result

    def check(self, desired: dict[str, dict], context: Context) -> None:
        servers = context.final_names.get("authorization_servers", set())
        for name, item in desired.items():
            for server in (item["policy"] or {}).get("authorization_servers", []):
                if server not in servers:
                    context.problem(
                        f"{self.where(name)}.policy.authorization_servers",
                        f"No authorization server named {server!r} in the file or the gateway.",
                    )

    def changed_fields(self, old: dict, new: dict, context: Context) -> list[tuple]:
        changed = [
            (name, old.get(name), new[name])
            for name in new
            if name not in {"policy", "routes"} and old.get(name) != new[name]
        ]
        old_policy, new_policy = old.get("policy"), new["policy"]
        if old_policy is None or new_policy is None:
            if old_policy != new_policy:
                changed.append(("policy", old_policy, new_policy))
        else:
            changed.extend(
                (f"policy.{name}", old_policy.get(name), value)
                for name, value in new_policy.items()
                if old_policy.get(name) != value
            )
        old_routes = {route_name(r): r for r in old.get("routes", [])}
        new_routes = {route_name(r): r for r in new["routes"]}
        for name in sorted(old_routes.keys() | new_routes.keys()):
            before, after = old_routes.get(name), new_routes.get(name)
            if before is None or after is None:
                changed.append((f"routes[{name}]", before, after))
            else:
                changed.extend(
                    (f"routes[{name}].{key}", before[key], value)
                    for key, value in after.items()
                    if before[key] != value
                )
        return changed

    # --- applying -----------------------------------------------------------------

    def load_instances(self, context: Context) -> None:
        apis = Api.objects.select_related("policy").prefetch_related("routes")
        context.instances[self.key] = {api.base_path: api for api in apis}

    def create(self, name: str, item: dict, context: Context) -> None:
        self.create_many([(name, item)], context)

    def create_many(self, items: list[tuple[str, dict]], context: Context) -> None:
        stored = context.instances["authorization_servers"]
        new, where = [], {}
        for name, item in items:
            api = Api(base_path=name, **{key: item[key] for key in API_KEYS})
            routes = [Route(**route) for route in item["routes"]]
            policy, servers = None, []
            if item["policy"] is not None:
                values = item["policy"]
                policy = IdentifyAndAuthorizePolicy(**{key: values[key] for key in POLICY_KEYS})
                servers = [stored[s] for s in values["authorization_servers"] if s in stored]
            new.append(services.NewApi(api, routes, policy, servers))
            where[id(api)] = self.where(name)
            for route in routes:
                where[id(route)] = self._at(self.where(name), route_item(route))
            if policy is not None:
                where[id(policy)] = f"{self.where(name)}.policy"
        invalid = services.create_apis(new, context.actor)
        for instance, exc in invalid:
            context.model_errors(where[id(instance)], exc)
        if invalid:
            return
        for (name, item), made in zip(items, new, strict=True):
            context.instances[self.key][name] = made.api
            if item["status"] == ApiStatus.ACTIVE:
                context.activate.add(name)

    def update(self, name: str, old: dict, new: dict, context: Context) -> None:
        api = context.instances[self.key][name]
        where = self.where(name)
        if any(old[key] != new[key] for key in API_KEYS):
            for key in API_KEYS:
                setattr(api, key, new[key])
            if not self._saved(services.save_api, api, where, context):
                return
        routes = {route_name(route_item(r)): r for r in api.routes.all()}
        wanted = {route_name(r): r for r in new["routes"]}
        for route_key, route in routes.items():
            if route_key not in wanted:
                services.delete_route(route, context.actor)
        if new["policy"] != old["policy"]:
            try:
                policy = api.policy
            except IdentifyAndAuthorizePolicy.DoesNotExist:
                policy = None
            if new["policy"] is None:
                changes.delete(policy, context.actor)
            else:
                self._save_policy(
                    api,
                    policy or IdentifyAndAuthorizePolicy(api=api),
                    new["policy"],
                    where,
                    context,
                )
        for route_key, values in wanted.items():
            route = routes.get(route_key)
            if route is None:
                self._saved(
                    services.save_route, Route(api=api, **values), self._at(where, values), context
                )
            elif route_item(route) != values:
                route.required_scopes = values["required_scopes"]
                route.anonymous = values["anonymous"]
                self._saved(services.save_route, route, self._at(where, values), context)
        was_active = old["status"] == ApiStatus.ACTIVE
        if new["status"] == ApiStatus.ACTIVE:
            context.activate.add(name)  # checked again even if active: it may have changed
        elif was_active:
            services.deactivate_api(api, context.actor)

    def delete(self, name: str, old: dict, context: Context) -> None:
        api = context.instances[self.key][name]
        services.delete_api(api, context.actor)

    @staticmethod
    def _at(where: str, route: dict) -> str:
        return f"{where}.routes[{route_name(route)}]"

    def _save_policy(self, api, policy, values: dict, where: str, context: Context) -> None:
        for key in POLICY_KEYS:
            setattr(policy, key, values[key])
        stored = context.instances["authorization_servers"]
        servers = [stored[name] for name in values["authorization_servers"] if name in stored]
        try:
            services.save_policy(policy, context.actor, authorization_servers=servers)
        except ValidationError as exc:
            context.model_errors(f"{where}.policy", exc)

    @staticmethod
    def _saved(service, instance, where: str, context: Context) -> bool:
        try:
            service(instance, context.actor)
        except ValidationError as exc:
            context.model_errors(where, exc)
            return False
        return True
