"""Domain operations on APIs, shared by the admin, the REST API and the console."""

from django.core.exceptions import ValidationError
from django.db import transaction

from gateway_admin.audit import record_event, snapshot

from .choices import ApiStatus
from .models import Api, IdentifyAndAuthorizePolicy
from .validators import validate_upstream_url


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
    everything_public = policy.allow_anonymous or (routes and all(r.anonymous for r in routes))
    if not everything_public:
        if not policy.authorization_servers.exists():
            problems.append("The policy trusts no authorization server.")
        if not policy.audiences:
            problems.append("The policy lists no audience; tokens' aud would go unchecked.")
    return problems


def activate_api(api: Api, actor=None) -> list[str]:
    """Activate the API if it is complete; return the problems otherwise."""
    problems = activation_problems(api)
    if problems:
        return problems
    _set_status(api, ApiStatus.ACTIVE, actor, "activate")
    return []


def deactivate_api(api: Api, actor=None) -> None:
    _set_status(api, ApiStatus.INACTIVE, actor, "deactivate")


def _set_status(api: Api, status: str, actor, action: str) -> None:
    with transaction.atomic():
        before = snapshot(api)
        api.status = status
        api.save(update_fields=["status", "updated_at"])
        record_event(actor, action, api, before=before, after=snapshot(api))
