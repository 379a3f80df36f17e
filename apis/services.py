"""Domain operations on APIs, shared by the admin, the REST API and the console."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apis.choices import ApiStatus
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.paths import BasePaths
from apis.validators import validate_upstream_url
from authservers.models import AuthorizationServer
from authservers.services import ensure_usable_keys, missing_keys_problem
from core import changes

# Activation checks of apps above this one (policies/apps.py registers the policy
# chain's): each takes the API and returns its problems.
ACTIVATION_CHECKS: list = []
# The API's relations those checks read, prefetched when many APIs are checked at once.
ACTIVATION_PREFETCH: list[str] = []


def activation_problems(api: Api) -> list[str]:
    """Everything that stops this API from being served; empty means it can go live."""
    problems = []
    try:
        validate_upstream_url(api.upstream_url)
    except ValidationError as exc:
        problems.append(f"Upstream URL: {' '.join(exc.messages)}")
    routes = list(api.routes.all())
    if not routes:
        problems.append("The API has no routes.")
    try:
        policy = api.policy
    except IdentifyAndAuthorizePolicy.DoesNotExist:
        problems.append('Attach the "Identify and authorize application" policy.')
        return problems
    servers = list(policy.authorization_servers.all())
    if not policy.is_fully_anonymous(routes):
        if not servers:
            problems.append("The policy trusts no authorization server.")
        if not policy.audiences:
            problems.append(
                "The policy lists no audience; only an API whose every call is anonymous "
                "may leave the audiences empty."
            )
    # A trusted server without keys would fail every token it issued (503 or 401).
    problems.extend(filter(None, (missing_keys_problem(server) for server in servers)))
    for check in ACTIVATION_CHECKS:
        problems.extend(check(api))
    return problems


def activate_api(api: Api, actor=None) -> list[str]:
    """Activate the API if it is complete; return the problems otherwise.

    Trusted servers whose keys were never fetched (or are past max_stale_seconds) get
    one fetch first, so a new issuer needs no manual refresh; when that fails, the
    problem names the server and the error.
    """
    policy = IdentifyAndAuthorizePolicy.objects.filter(api=api).first()
    for server in policy.authorization_servers.all() if policy else []:
        ensure_usable_keys(server)
    problems = activation_problems(api)
    if problems:
        return problems
    _set_status(api, ApiStatus.ACTIVE, actor, "activate")
    return []


def deactivate_api(api: Api, actor=None) -> None:
    _set_status(api, ApiStatus.INACTIVE, actor, "deactivate")


def _set_status(api: Api, status: str, actor, action: str) -> None:
    with changes.changing(api, actor, action):
        api.status = status
        api.save(update_fields=["status", "updated_at"])


@dataclass
class StatusPlan:
    """What setting several APIs to one status does: the APIs that change, those that
    already have it, and (activation only) those refused with their problems."""

    status: str
    change: list[Api] = field(default_factory=list)
    unchanged: list[Api] = field(default_factory=list)
    refused: list[tuple[Api, list[str]]] = field(default_factory=list)


def plan_statuses(apis: Iterable[Api], status: str) -> StatusPlan:
    """The plan without writing anything: the confirmation page shows exactly this.

    Unlike activate_api, no key fetch is attempted: a server whose keys were never
    fetched is a problem here, so the plan shown is the plan applied.
    """
    plan = StatusPlan(status)
    for api in apis:
        if api.status == status:
            plan.unchanged.append(api)
        elif status == ApiStatus.ACTIVE and (problems := activation_problems(api)):
            plan.refused.append((api, problems))
        else:
            plan.change.append(api)
    return plan


def set_statuses(apis: Iterable[Api], status: str, actor=None) -> StatusPlan:
    """Activate or deactivate several APIs in one transaction: each change is audited
    on its own, and the config version moves once for all of them."""
    action = "activate" if status == ApiStatus.ACTIVE else "deactivate"
    with transaction.atomic():
        # Re-read under a lock: the plan applied is the one true at the commit.
        locked = Api.objects.select_for_update().filter(pk__in=[api.pk for api in apis])
        plan = plan_statuses(locked.order_by("base_path"), status)
        for api in plan.change:
            _set_status(api, status, actor, action)
    return plan


# --- the write path of APIs, routes and policies (core/changes.py) ----------------


def save_api(api: Api, actor=None) -> Api:
    """Create or update the API; Api.clean() holds its rules."""
    return changes.save(api, actor)


def delete_api(api: Api, actor=None) -> None:
    """Delete the API with its routes and policy; applications only lose the association."""
    changes.delete(api, actor)


def save_route(route: Route, actor=None) -> Route:
    """Create or update a route; full_clean() also enforces one route per method + path."""
    return changes.save(route, actor)


def delete_route(route: Route, actor=None) -> None:
    changes.delete(route, actor)


def save_policy(
    policy: IdentifyAndAuthorizePolicy, actor=None, *, authorization_servers=None
) -> IdentifyAndAuthorizePolicy:
    """Create or update an API's policy; `authorization_servers` (when given) become the
    servers it trusts."""
    related = (
        {} if authorization_servers is None else {"authorization_servers": authorization_servers}
    )
    return changes.save(policy, actor, related=related)


# --- many APIs at once (a configuration file: configfile/kinds/apis.py) ---------------


@dataclass
class NewApi:
    """An API to create with its routes and (optional) policy trusting `servers`."""

    api: Api
    routes: list[Route] = field(default_factory=list)
    policy: IdentifyAndAuthorizePolicy | None = None
    servers: list[AuthorizationServer] = field(default_factory=list)


def create_apis(new: list[NewApi], actor=None) -> changes.Invalid:
    """save_api, save_route and save_policy for many new APIs: the same rules (the
    models' clean_with, fed from memory: the base paths of the stored APIs and of the
    others created here, each API's routes), one audit event per resource, one version.

    Returns what breaks a rule (an API's routes and policy are not checked when the API
    itself is invalid); then nothing is written.
    """
    base_paths = BasePaths()
    for base_path, name, version in Api.objects.values_list("base_path", "name", "version"):
        base_paths.add(base_path, f"{name} {version}".strip())

    def api_rules(api: Api) -> None:
        api.clean_with(base_paths)
        base_paths.add(api.base_path, str(api))

    invalid = changes.validate_many([item.api for item in new], api_rules)
    refused = {id(api) for api, _ in invalid}
    for item in new:
        if id(item.api) in refused:
            continue
        # Routes are checked as save_route checks them, one after the other with the
        # policy not there yet; the policy then against all of them.
        siblings: dict[str, list[str]] = {}

        def route_rules(route: Route, siblings=siblings) -> None:
            route.clean_with(siblings.get(route.method, ()), None)
            siblings.setdefault(route.method, []).append(route.path)

        invalid += changes.validate_many(item.routes, route_rules, exclude=["api"])
        if item.policy is not None:
            invalid += changes.validate_many(
                [item.policy],
                lambda policy, item=item: policy.clean_with(item.routes),
                exclude=["api"],
            )
    if invalid:
        return invalid
    # A new API is inactive (activate_apis moves the version when it goes live), so
    # neither it nor its routes and policy are served yet.
    with transaction.atomic():
        changes.create_many([item.api for item in new], actor, announce=False)
        for item in new:
            for route in item.routes:
                route.api = item.api
            if item.policy is not None:
                item.policy.api = item.api
        routes = [route for item in new for route in item.routes]
        changes.create_many(routes, actor, announce=False)
        with_policy = [item for item in new if item.policy is not None]
        changes.create_many(
            [item.policy for item in with_policy],
            actor,
            related=[{"authorization_servers": item.servers} for item in with_policy],
            announce=False,
        )
    return []


def activate_apis(apis: Iterable[Api], actor=None) -> dict[Api, list[str]]:
    """activate_api for several APIs: each trusted server's keys fetched once when
    missing, the same checks (activation_problems) for each, and those that pass
    activated with one UPDATE, each audited. Returns the refused ones with their problems.
    """
    apis = list(
        Api.objects.filter(pk__in=[api.pk for api in apis])
        .select_related("policy")
        .prefetch_related("routes", "policy__authorization_servers", *ACTIVATION_PREFETCH)
    )
    servers = {
        server.pk: server
        for api in apis
        if _policy_of(api) is not None
        for server in api.policy.authorization_servers.all()
    }
    for server in servers.values():
        ensure_usable_keys(server)
    refused, ready = {}, []
    for api in apis:
        problems = activation_problems(api)
        if problems:
            refused[api] = problems
        elif api.status != ApiStatus.ACTIVE:
            ready.append(api)
    now = timezone.now()
    with changes.changing_many(ready, actor, "activate"):
        Api.objects.filter(pk__in=[api.pk for api in ready]).update(
            status=ApiStatus.ACTIVE, updated_at=now
        )
        for api in ready:
            api.status, api.updated_at = ApiStatus.ACTIVE, now
    return refused


def _policy_of(api: Api) -> IdentifyAndAuthorizePolicy | None:
    try:
        return api.policy
    except IdentifyAndAuthorizePolicy.DoesNotExist:
        return None


# --- deleting an authorization server: it spans both apps, so it lives above both ---


class ServerInUse(Exception):
    """Active APIs trust the server: deleting it would fail every call they get."""

    def __init__(self, server: AuthorizationServer, apis: list[Api]):
        self.apis = apis
        names = ", ".join(str(api) for api in apis)
        plural = "s" if len(apis) != 1 else ""
        super().__init__(
            f"{server} is trusted by {len(apis)} active API{plural} ({names}): deleting it "
            "would fail every call to them. Deactivate them first, or delete with "
            "deactivate_apis to deactivate them in the same change."
        )


def active_apis_trusting(server: AuthorizationServer) -> list[Api]:
    return list(
        Api.objects.filter(status=ApiStatus.ACTIVE, policy__authorization_servers=server).distinct()
    )


def delete_server(
    server: AuthorizationServer, actor=None, *, deactivate_apis: bool = False
) -> None:
    """Delete an authorization server; policies that trusted it stop accepting its tokens.

    Refused (ServerInUse) while active APIs trust it, unless `deactivate_apis`: then
    they are deactivated first, each audited, in the same transaction.
    """
    with transaction.atomic():
        dependents = active_apis_trusting(server)
        if dependents and not deactivate_apis:
            raise ServerInUse(server, dependents)
        for api in dependents:
            deactivate_api(api, actor)
        changes.delete(server, actor)
