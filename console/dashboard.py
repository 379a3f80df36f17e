"""The console's home: what is published, who calls it, and whether the issuers are healthy."""

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.roles import Action
from apis.choices import ApiStatus
from apis.models import Api
from applications.choices import ApplicationStatus
from applications.models import Application
from authservers.models import AuthorizationServer
from authservers.services import key_health
from console.access import role_required
from core.audit import SIGN_IN_ACTIONS
from core.models import AuditEvent


@require_GET
@role_required(Action.VIEW_APIS)
def dashboard(request: HttpRequest) -> HttpResponse:
    api_counts = Api.objects.aggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(status=ApiStatus.ACTIVE)),
        inactive=Count("pk", filter=Q(status=ApiStatus.INACTIVE)),
    )
    app_counts = Application.objects.aggregate(
        total=Count("pk"), suspended=Count("pk", filter=Q(status=ApplicationStatus.SUSPENDED))
    )
    servers = [
        (server, key_health(server))
        for server in AuthorizationServer.objects.select_related("jwks_snapshot")
    ]
    context = {
        "api_counts": api_counts,
        "app_counts": app_counts,
        "servers": servers,
        "unhealthy": sum(1 for _, health in servers if health.state != "ok"),
        # Recent configuration changes; sign-ins are in the audit log, not here.
        "events": AuditEvent.objects.exclude(action__in=SIGN_IN_ACTIONS)[:10],
        "setup_steps": _setup_steps(servers, api_counts, app_counts),
    }
    return render(request, "console/dashboard.html", context)


def _setup_steps(servers, api_counts, app_counts) -> list[dict] | None:
    """The getting-started checklist, until an API is active."""
    if api_counts["active"]:
        return None
    return [
        {"label": "Add the authorization server that issues your tokens", "done": bool(servers)},
        {"label": "Create an API with its routes and access policy", "done": api_counts["total"]},
        {
            "label": "Register an application and associate it with the API",
            "done": app_counts["total"],
        },
        {"label": "Activate the API and call it through the gateway", "done": False},
    ]
