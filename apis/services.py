"""Domain operations on APIs, shared by the admin, the REST API and the console."""

import io
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError

from apis.choices import ApiStatus, IdentitySource
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.validators import validate_upstream_url
from authservers.services import ensure_usable_keys, missing_keys_problem
from core import changes


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


@dataclass(frozen=True)
class Inspection:
    """What the proxy would do with one call, and every check it made on the way."""

    allowed: bool
    status: int
    code: str | None
    detail: str
    gateway_path: str
    route: str | None
    application: str | None
    trace: list[dict] = field(default_factory=list)
    # For admins: what was expected versus what the token had (the client sees `detail`).
    admin_detail: str | None = None


def inspect_token(api: Api, method: str, path: str, token: str = "") -> Inspection:
    """Run the proxy's own decide() on a synthetic request carrying `token` for `api`."""
    # Imported here: the proxy imports the models of every app, this module included.
    from proxy.config import config_holder
    from proxy.errors import GatewayError
    from proxy.pipeline import decide

    full_path = api.base_path + path
    gateway_path = settings.GATEWAY_PREFIX + full_path
    trace: list[dict] = []
    try:
        decision = decide(
            config_holder.current(), _environ_for(api, method, token), full_path, trace
        )
    except GatewayError as error:
        return Inspection(
            allowed=False,
            status=error.status,
            code=error.code,
            detail=error.detail,
            gateway_path=gateway_path,
            route=None,
            application=None,
            trace=_complete(trace),
            admin_detail=error.admin_detail,
        )
    application = decision.application.name if decision.application else None
    return Inspection(
        allowed=True,
        status=200,
        code=None,
        detail=f"The call would be forwarded to {decision.api.name}.",
        gateway_path=gateway_path,
        route=f"{decision.route.method} {decision.route.path}",
        application=application,
        trace=_complete(trace),
    )


def _complete(trace: list[dict]) -> list[dict]:
    """Every step with the same members; facts a check did not record are None."""
    return [
        {
            "check": step["check"],
            "ok": step["ok"],
            "detail": step["detail"],
            "admin_detail": step.get("admin_detail") or step["detail"],
            "expected": step.get("expected"),
            "actual": step.get("actual"),
        }
        for step in trace
    ]


def _environ_for(api: Api, method: str, token: str) -> dict:
    """A WSGI environ carrying the token where the API's policy looks for it."""
    environ = {
        "REQUEST_METHOD": method,
        "QUERY_STRING": "",
        "wsgi.input": io.BytesIO(),
        "wsgi.url_scheme": "http",
    }
    if not token:
        return environ
    policy = IdentifyAndAuthorizePolicy.objects.filter(api=api).first()
    source = policy.identity_source if policy else IdentitySource.HEADER
    name = policy.identity_name if policy else "Authorization"
    if source == IdentitySource.QUERY:
        environ["QUERY_STRING"] = urlencode({name: token})
    elif source == IdentitySource.COOKIE:
        environ["HTTP_COOKIE"] = f"{name}={token}"
    else:
        environ["HTTP_" + name.upper().replace("-", "_")] = f"Bearer {token}"
    return environ


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
