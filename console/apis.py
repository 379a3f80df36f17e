"""APIs: list, create/edit, OpenAPI import, activation, and the changes made from the API
page's tabs (routes, policy, applications); the tabs themselves are console/api_tabs.py."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Action
from apis import services
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.openapi_import import import_openapi
from applications.models import Application
from applications.services import update_application
from authservers.models import AuthorizationServer
from console.access import role_required
from console.api_tabs import render_policy_form, render_routes
from console.common import (
    annotate_page,
    apply_errors,
    confirm,
    count_of,
    paginate,
    row_id,
)
from console.forms.apis import (
    ApiFilterForm,
    ApiForm,
    AssociateApplicationForm,
    OpenApiImportForm,
    PolicyForm,
    RouteForm,
)
from console.listing import Column, Listing

MAX_IMPORT_WARNINGS_SHOWN = 10
# The API list's sortable columns; counts are not (see console/listing.py).
COLUMNS = {
    "name": Column(("name", "version", "pk")),
    "status": Column(("status", "base_path")),
    "base_path": Column(("base_path",)),
    "upstream": Column(("upstream_url", "base_path")),
    "updated": Column(("updated_at", "pk"), dated=True),
}


def _get_api(pk: int) -> Api:
    return get_object_or_404(Api, pk=pk)


def _get_route(api: Api, route_pk: int) -> Route:
    return get_object_or_404(Route, pk=route_pk, api=api)


def _policy_of(api: Api) -> IdentifyAndAuthorizePolicy | None:
    return IdentifyAndAuthorizePolicy.objects.filter(api=api).first()


def _is_htmx_fragment(request: HttpRequest) -> bool:
    """An htmx request for a page fragment (not a boosted full-page navigation)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-Boosted")


# --- list, create, edit, import ----------------------------------------------------------


@require_GET
@role_required(Action.VIEW_APIS)
def api_list(request: HttpRequest) -> HttpResponse:
    form = ApiFilterForm(request.GET)
    listing = Listing(request, COLUMNS, "name")
    # Counts as correlated subqueries, for the page's rows only: joining routes and
    # applications would multiply them (10 routes x 100,000 applications = 1 M rows).
    apis = listing.apply(Api.objects.all())
    server = None
    if (server_pk := row_id(request.GET.get("server"))) is not None:
        server = AuthorizationServer.objects.filter(pk=server_pk).first()
        apis = apis.filter(policy__authorization_servers=server) if server else apis.none()
    if form.is_valid():
        if q := form.cleaned_data["q"].strip():
            apis = apis.filter(
                Q(name__icontains=q) | Q(base_path__icontains=q) | Q(upstream_url__icontains=q)
            )
        if status := form.cleaned_data["status"]:
            apis = apis.filter(status=status)
        if kind := form.cleaned_data["kind"]:
            apis = apis.filter(kind=kind)
    context = {
        "form": form,
        "page": annotate_page(
            paginate(request, apis.only("pk"), per_page=listing.page_size),
            Api.objects.annotate(
                route_count=count_of(Route, "api"),
                application_count=count_of(Application.apis.through, "api"),
            ),
        ),
        "listing": listing,
        "filtered": any(request.GET.get(name) for name in ("q", "status", "kind", "server")),
        "server": server,
        "any_api": Api.objects.exists(),
    }
    return render(request, "console/apis/list.html", context)


@require_http_methods(["GET", "POST"])
@role_required(Action.CREATE_APIS)
def api_create(request: HttpRequest) -> HttpResponse:
    form = ApiForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            api = services.save_api(form.save(commit=False), actor=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{api} created. Next: add its routes and the access policy.")
            return redirect("console:api-detail", api.pk)
    return render(request, "console/apis/form.html", {"form": form, "api": None})


@require_http_methods(["GET", "POST"])
@role_required(Action.CHANGE_APIS)
def api_edit(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    form = ApiForm(request.POST or None, instance=api)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_api(form.save(commit=False), actor=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{api} saved.")
            return redirect("console:api-detail", api.pk)
    return render(request, "console/apis/form.html", {"form": form, "api": _get_api(pk)})


@require_http_methods(["GET", "POST"])
@role_required(Action.IMPORT_OPENAPI)
def api_import(request: HttpRequest) -> HttpResponse:
    form = OpenApiImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = import_openapi(
                data["document"],
                request.user,
                name=data["name"],
                version=data["version"],
                base_path=data["base_path"],
                upstream_url=data["upstream_url"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                f"Imported {result.api} with {len(result.routes)} routes. It is inactive: "
                "set up the access policy, then activate it.",
            )
            for warning in result.warnings[:MAX_IMPORT_WARNINGS_SHOWN]:
                messages.warning(request, warning)
            hidden = len(result.warnings) - MAX_IMPORT_WARNINGS_SHOWN
            if hidden > 0:
                messages.warning(request, f"…and {hidden} more import warnings.")
            return redirect("console:api-detail", result.api.pk)
    return render(request, "console/apis/import.html", {"form": form})


# --- activation and deletion ---------------------------------------------------------------


@require_POST
@role_required(Action.ACTIVATE_APIS)
def api_activate(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    problems = services.activate_api(api, actor=request.user)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        messages.error(request, f"{api} was not activated: fix the {count} listed below.")
    else:
        messages.success(
            request,
            f"{api} is active: calls to {api.gateway_path} are served.",
        )
    return redirect("console:api-detail", api.pk)


@require_GET
@role_required(Action.ACTIVATE_APIS)
def api_deactivate_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    return confirm(
        request,
        title=f"Deactivate {api}?",
        question="The gateway stops serving this API within a second.",
        consequences=[
            f"Calls to {api.gateway_path}/… get 404 api_not_found.",
            "Routes, policy and applications are kept; you can activate it again.",
        ],
        action_url=reverse("console:api-deactivate", args=[api.pk]),
        cancel_url=reverse("console:api-detail", args=[api.pk]),
        button="Deactivate",
    )


@require_POST
@role_required(Action.ACTIVATE_APIS)
def api_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    services.deactivate_api(api, actor=request.user)
    messages.success(request, f"{api} is inactive; the gateway no longer serves it.")
    return redirect("console:api-detail", api.pk)


@require_GET
@role_required(Action.DELETE_APIS)
def api_delete_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    consequences = [f"Its {api.routes.count()} routes and its access policy are deleted."]
    if count := api.applications.count():
        consequences.append(f"{count} applications lose their access to it.")
    if api.is_active:
        consequences.append("It is active: its calls start failing with 404 at once.")
    return confirm(
        request,
        title=f"Delete {api}?",
        question="This cannot be undone.",
        consequences=consequences,
        action_url=reverse("console:api-delete", args=[api.pk]),
        cancel_url=reverse("console:api-detail", args=[api.pk]),
        button="Delete API",
    )


@require_POST
@role_required(Action.DELETE_APIS)
def api_delete(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    name = str(api)
    services.delete_api(api, actor=request.user)
    messages.success(request, f"{name} deleted.")
    return redirect("console:api-list")


# --- routes ----------------------------------------------------------------------


@require_POST
@role_required(Action.CREATE_ROUTES)
def route_add(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    form = RouteForm(request.POST, instance=Route(api=api))
    if form.is_valid():
        try:
            route = services.save_route(form.save(commit=False), actor=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Route {route} added.")
            return redirect("console:api-routes", api.pk)
    return render_routes(request, api, new_route_form=form)


@require_http_methods(["GET", "POST"])
@role_required(Action.CHANGE_ROUTES)
def route_edit(request: HttpRequest, pk: int, route_pk: int) -> HttpResponse:
    api = _get_api(pk)
    route = _get_route(api, route_pk)
    if request.method == "GET":
        if _is_htmx_fragment(request):
            form = RouteForm(instance=route)
            return render(request, "console/apis/_route_edit_row.html", {"api": api, "form": form})
        url = reverse("console:api-routes", args=[api.pk])
        return redirect(f"{url}?edit_route={route.pk}#route-{route.pk}")
    form = RouteForm(request.POST, instance=route)
    if form.is_valid():
        try:
            services.save_route(form.save(commit=False), actor=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"Route {route} saved.")
            return redirect("console:api-routes", api.pk)
    return render_routes(request, api, editing=form)


@require_GET
@role_required(Action.VIEW_ROUTES)
def route_row(request: HttpRequest, pk: int, route_pk: int) -> HttpResponse:
    """One route as a table row (htmx swaps it back in when an inline edit is cancelled)."""
    api = _get_api(pk)
    return render(
        request, "console/apis/_route_row.html", {"api": api, "route": _get_route(api, route_pk)}
    )


@require_GET
@role_required(Action.DELETE_ROUTES)
def route_delete_confirm(request: HttpRequest, pk: int, route_pk: int) -> HttpResponse:
    api = _get_api(pk)
    route = _get_route(api, route_pk)
    consequences = [f"Calls to {route.path} answer 404 route_not_found (or match another route)."]
    if api.is_active and api.routes.count() == 1:
        consequences.append("It is the API's only route: the API stops serving anything.")
    return confirm(
        request,
        title=f"Delete route {route}?",
        question=f"From {api}.",
        consequences=consequences,
        action_url=reverse("console:route-delete", args=[api.pk, route.pk]),
        cancel_url=reverse("console:api-routes", args=[api.pk]),
        button="Delete route",
    )


@require_POST
@role_required(Action.DELETE_ROUTES)
def route_delete(request: HttpRequest, pk: int, route_pk: int) -> HttpResponse:
    api = _get_api(pk)
    route = _get_route(api, route_pk)
    label = str(route)
    services.delete_route(route, actor=request.user)
    messages.success(request, f"Route {label} deleted.")
    return redirect("console:api-routes", api.pk)


# --- policy and applications -------------------------------------------------------------


@require_POST
@role_required(Action.SAVE_POLICIES)
def policy_save(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    policy = _policy_of(api) or IdentifyAndAuthorizePolicy(api=api)
    form = PolicyForm(request.POST, instance=policy)
    if form.is_valid():
        try:
            services.save_policy(
                form.save(commit=False),
                authorization_servers=form.cleaned_data["authorization_servers"],
                actor=request.user,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Access policy saved.")
            return redirect("console:api-policy", api.pk)
    messages.error(request, "The access policy was not saved: see the errors below.")
    # A fresh API: the form's unsaved policy is cached on `api` as its reverse one-to-one.
    return render_policy_form(request, _get_api(pk), form)


@require_POST
@role_required(Action.CHANGE_APPLICATIONS)
def application_associate(request: HttpRequest, pk: int) -> HttpResponse:
    api = _get_api(pk)
    form = AssociateApplicationForm(request.POST, api=api)
    if form.is_valid():
        application = form.cleaned_data["application"]
        update_application(application, actor=request.user, apis=[*application.apis.all(), api])
        messages.success(request, f"{application} may now call {api}.")
    else:
        messages.error(request, "Choose an application that is not associated yet.")
    return redirect("console:api-applications", api.pk)


@require_GET
@role_required(Action.CHANGE_APPLICATIONS)
def application_dissociate_confirm(request: HttpRequest, pk: int, app_pk: int) -> HttpResponse:
    api = _get_api(pk)
    application = get_object_or_404(Application, pk=app_pk, apis=api)
    return confirm(
        request,
        title=f"Remove {application} from {api}?",
        question="Its tokens stop being accepted for this API.",
        consequences=["Its calls to this API get 403 application_not_authorized."],
        action_url=reverse("console:api-dissociate", args=[api.pk, application.pk]),
        cancel_url=reverse("console:api-applications", args=[api.pk]),
        button="Remove access",
    )


@require_POST
@role_required(Action.CHANGE_APPLICATIONS)
def application_dissociate(request: HttpRequest, pk: int, app_pk: int) -> HttpResponse:
    api = _get_api(pk)
    application = get_object_or_404(Application, pk=app_pk, apis=api)
    remaining = [other for other in application.apis.all() if other.pk != api.pk]
    update_application(application, actor=request.user, apis=remaining)
    messages.success(request, f"{application} may no longer call {api}.")
    return redirect("console:api-applications", api.pk)
