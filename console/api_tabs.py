"""The API page, one tab per URL: Overview, Routes, Policy (read-only, with an explicit
Edit), Applications, Traffic and History.

Each tab is server-rendered at its own address, so tabs work without JavaScript, can be
bookmarked, and load only what they show: the 100,000 applications of a large API are
counted, never listed (the first FIRST_ROWS are, then the filtered application list).
"""

import shlex
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import CharField, Q
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts import roles
from accounts.roles import Action
from apis import services
from apis.choices import HttpMethod
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.paths import example_path
from apis.token_location import TokenLocation
from applications.models import Application
from console.access import role_required
from console.audit import event_rows
from console.common import FIRST_ROWS, linked_rows, paginate, row_id
from console.forms.apis import AssociateApplicationForm, PolicyForm, RouteForm
from console.listing import Column, Listing
from core.hosts import public_url
from core.models import AuditEvent

ROUTES_PER_PAGE = 50
HISTORY_COLUMNS = {"created": Column(("created_at", "id"), dated=True)}


@dataclass(frozen=True)
class Tab:
    name: str
    label: str
    url_name: str
    action: Action


TABS = (
    Tab("overview", "Overview", "console:api-detail", Action.VIEW_APIS),
    Tab("routes", "Routes", "console:api-routes", Action.VIEW_ROUTES),
    Tab("policy", "Policy", "console:api-policy", Action.VIEW_POLICIES),
    Tab("applications", "Applications", "console:api-applications", Action.VIEW_APPLICATIONS),
    Tab("traffic", "Traffic", "console:api-traffic", Action.VIEW_APIS),
    Tab("history", "History", "console:api-history", Action.VIEW_AUDIT),
)


def _get_api(pk: int) -> Api:
    return get_object_or_404(Api, pk=pk)


def _policy_of(api: Api) -> IdentifyAndAuthorizePolicy | None:
    return IdentifyAndAuthorizePolicy.objects.filter(api=api).first()


def _render(request: HttpRequest, api: Api, current: str, template: str, **context):
    """A tab of the API page: the tabs this role may see, with their counts."""
    counts = {
        "routes": api.routes.count(),
        "applications": Application.apis.through.objects.filter(api=api).count(),
    }
    tabs = [
        {
            "name": tab.name,
            "label": tab.label,
            "url": reverse(tab.url_name, args=[api.pk]),
            "current": tab.name == current,
            "count": counts.get(tab.name),
        }
        for tab in TABS
        if roles.can(request.user, tab.action)
    ]
    context = {"api": api, "tabs": tabs, "tab": current, "counts": counts, **context}
    return render(request, f"console/apis/{template}.html", context)


# --- Overview -----------------------------------------------------------------------


@require_GET
@role_required(Action.VIEW_APIS)
def api_detail(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    # Links from before the tabs (a route's inline edit, a page of routes).
    if "routes_page" in request.GET or "edit_route" in request.GET:
        params = request.GET.copy()
        if "routes_page" in params:
            params["page"] = params.pop("routes_page")[-1]
        return redirect(f"{reverse('console:api-routes', args=[api.pk])}?{params.urlencode()}")
    policy = _policy_of(api)
    return _render(
        request,
        api,
        "overview",
        "overview",
        policy=policy,
        trusted_servers=list(policy.authorization_servers.all()) if policy else [],
        problems=services.activation_problems(api),
        gateway_url=public_url(api.gateway_path),
        curl=_curl_example(api, _example_routes(api), policy),
    )


def _example_routes(api: Api) -> list[Route]:
    """The route the curl example calls (the first protected one), not the whole list."""
    route = api.routes.filter(anonymous=False).first() or api.routes.first()
    return [route] if route else []


def _curl_example(api: Api, routes: list[Route], policy) -> str:
    """A copyable call of the first protected route, with the token where the policy looks."""
    if not routes:
        return ""
    route = next((r for r in routes if not r.anonymous), routes[0])
    url = public_url(api.gateway_path + example_path(route.path))
    parts = ["curl", "-i"]
    if route.method not in (HttpMethod.ANY, HttpMethod.GET):
        parts += ["-X", route.method]
    if not route.anonymous:
        location = TokenLocation.of(policy)
        if location.in_query:
            url += "?" + location.pair("$TOKEN")
        elif location.in_cookie:
            parts += ["--cookie", location.pair("$TOKEN")]
        else:
            parts += ["-H", f"{location.name}: {location.header_value('$TOKEN')}"]
    # Double quotes keep $TOKEN expandable in the shell; shlex quotes everything else.
    quoted = [f'"{p}"' if "$TOKEN" in p else shlex.quote(p) for p in [*parts, url]]
    return " ".join(quoted)


# --- Routes -------------------------------------------------------------------------


@require_GET
@role_required(Action.VIEW_ROUTES)
def api_routes(request: HttpRequest, pk: int) -> HttpResponse:
    return render_routes(request, _get_api(pk))


def render_routes(
    request: HttpRequest,
    api: Api,
    *,
    new_route_form: RouteForm | None = None,
    editing: RouteForm | None = None,
) -> HttpResponse:
    """The Routes tab; a route POST that fails validation renders it with its bound form."""
    edit_pk = row_id(request.GET.get("edit_route"))
    editing_route = editing.instance if editing is not None else None
    if editing_route is None and edit_pk is not None:
        editing_route = api.routes.filter(pk=edit_pk).first()
    # A page at a time, on the page of the route being edited if there is one.
    number = request.GET.get("page")
    if editing_route is not None and editing_route.pk:
        number = _route_position(api, editing_route) // ROUTES_PER_PAGE + 1
    routes_page = Paginator(api.routes.all(), ROUTES_PER_PAGE).get_page(number)
    if editing is None and editing_route is not None:
        editing = RouteForm(instance=editing_route)
    return _render(
        request,
        api,
        "routes",
        "routes",
        routes=list(routes_page.object_list),
        routes_page=routes_page,
        editing=editing,
        new_route_form=new_route_form or RouteForm(instance=Route(api=api)),
    )


def _route_position(api: Api, route: Route) -> int:
    """How many of the API's routes come before `route` (Route.Meta.ordering)."""
    return api.routes.filter(
        Q(path__lt=route.path) | Q(path=route.path, method__lt=route.method)
    ).count()


# --- Policy: read-only, and its edit form behind an explicit Edit ---------------------


@require_GET
@role_required(Action.VIEW_POLICIES)
def api_policy(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    policy = _policy_of(api)
    return _render(
        request,
        api,
        "policy",
        "policy",
        policy=policy,
        trusted_servers=list(policy.authorization_servers.all()) if policy else [],
    )


@require_GET
@role_required(Action.SAVE_POLICIES)
def api_policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    return render_policy_form(request, api, PolicyForm(instance=_policy_of(api)))


def render_policy_form(request: HttpRequest, api: Api, form: PolicyForm) -> HttpResponse:
    return _render(request, api, "policy", "policy_edit", policy_form=form)


# --- Applications ----------------------------------------------------------------------


@require_GET
@role_required(Action.VIEW_APPLICATIONS)
def api_applications(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    # The first applications only: the list of all is the filtered application list.
    links = Application.apis.through.objects.filter(api=api)
    count = links.count()
    applications = linked_rows(Application.objects.order_by("name"), links, "application_id", count)
    return _render(
        request,
        api,
        "applications",
        "applications",
        applications=list(applications[:FIRST_ROWS]),
        application_count=count,
        associate_form=AssociateApplicationForm(api=api, associated=count),
    )


# --- Traffic and History ------------------------------------------------------------------


@require_GET
@role_required(Action.VIEW_APIS)
def api_traffic(request: HttpRequest, pk: int) -> HttpResponse:
    return _render(request, _get_api(pk), "traffic", "traffic")


@require_GET
@role_required(Action.VIEW_AUDIT)
def api_history(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    listing = Listing(request, HISTORY_COLUMNS, "-created")
    page = paginate(request, listing.apply(_events_of(api)), per_page=listing.page_size)
    return _render(
        request, api, "history", "history", page=page, rows=event_rows(page), listing=listing
    )


def _events_of(api: Api):
    """Changes of the API, of its routes and of its access policy. A deleted route's
    events stay in the audit log, which the tab links to."""
    route_ids = Route.objects.filter(api=api).annotate(key=Cast("pk", CharField())).values("key")
    found = Q(object_type="api", object_id=str(api.pk)) | Q(
        object_type="route", object_id__in=route_ids
    )
    policy = _policy_of(api)
    if policy is not None:
        found |= Q(object_type="identifyandauthorizepolicy", object_id=str(policy.pk))
    return AuditEvent.objects.filter(found)
