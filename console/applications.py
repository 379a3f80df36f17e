"""Applications: list, create/edit, suspend/resume, secret rotation, test tokens, deletion."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Action
from apis.models import Api
from apis.paths import example_path
from applications import services
from applications.choices import ApplicationStatus
from applications.fields import OAUTH_FIELDS
from applications.models import Application
from authservers.choices import ServerKind
from authservers.models import AuthorizationServer
from console.access import role_required
from console.common import (
    annotate_page,
    apply_errors,
    confirm,
    count_of,
    linked_rows,
    paginate,
    row_id,
)
from console.forms.applications import ApplicationForm, TestTokenForm
from console.listing import Column, Listing
from core.http import never_store
from issuer import test_tokens
from issuer.tokens import allowed_audiences

# The plain client secret travels from the POST that made it to the next page view
# in the session, and is removed from it on that view: it is shown exactly once.
SECRET_SESSION_KEY = "console:new-client-secret"
TOKEN_SESSION_KEY = "console:test-token"
# The application list's sortable columns (the name is unique, so it ends each order).
COLUMNS = {
    "name": Column(("name",)),
    "status": Column(("status", "name")),
    "updated": Column(("updated_at", "pk"), dated=True),
}


def _get_application(pk: int) -> Application:
    return get_object_or_404(Application.objects.select_related("oauth_client"), pk=pk)


def _hand_over_secret(
    request: HttpRequest, application: Application, secret: str, key: str = SECRET_SESSION_KEY
) -> None:
    request.session[key] = {"application": application.pk, "secret": secret}


def _take_secret(
    request: HttpRequest, application: Application, key: str = SECRET_SESSION_KEY
) -> str | None:
    stored = request.session.get(key)
    if not stored or stored.get("application") != application.pk:
        return None
    del request.session[key]
    return stored.get("secret")


@require_GET
@role_required(Action.VIEW_APPLICATIONS)
def application_list(request: HttpRequest) -> HttpResponse:
    # The API count is a subquery evaluated for the page's rows only: a join with a
    # GROUP BY would count every application's APIs before sorting (issue 21).
    listing = Listing(request, COLUMNS, "name")
    applications = listing.apply(Application.objects.select_related("oauth_client"))
    api, known_count = None, None
    if (api_pk := row_id(request.GET.get("api"))) is not None:
        api = Api.objects.filter(pk=api_pk).first()
        if api is None:
            applications = applications.none()
        else:
            links = Application.apis.through.objects.filter(api=api)
            known_count = links.count()
            applications = linked_rows(applications, links, "application_id", known_count)
    q = request.GET.get("q", "").strip()
    if q:
        applications = applications.filter(
            Q(name__icontains=q) | Q(oauth_client__client_id__icontains=q)
        )
    status = request.GET.get("status", "")
    if status in ApplicationStatus.values:
        applications = applications.filter(status=status)
    filtered = bool(q) or status in ApplicationStatus.values
    context = {
        "page": annotate_page(
            paginate(
                request,
                applications.select_related(None).only("pk"),
                per_page=listing.page_size,
                count=None if filtered else known_count,
            ),
            Application.objects.select_related("oauth_client").annotate(
                api_count=count_of(Application.apis.through, "application")
            ),
        ),
        "listing": listing,
        "q": q,
        "status": status,
        "statuses": ApplicationStatus.choices,
        "api": api,
        "any_application": Application.objects.exists(),
    }
    return render(request, "console/applications/list.html", context)


@require_http_methods(["GET", "POST"])
@role_required(Action.CREATE_APPLICATIONS)
def application_create(request: HttpRequest) -> HttpResponse:
    api_pk = row_id(request.GET.get("api"))
    initial = {"apis": [str(api_pk)]} if api_pk is not None else None
    form = ApplicationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            application, secret = services.create_application(
                actor=request.user,
                apis=data["apis"],
                name=data["name"],
                description=data["description"],
                identifying_claims=data["identifying_claims"],
                custom_claims=data["custom_claims"],
                **{name: data[name] for name in OAUTH_FIELDS},
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if secret is not None:  # a public client has none
                _hand_over_secret(request, application, secret)
            messages.success(request, f"{application} registered.")
            return redirect("console:application-detail", application.pk)
    return render(request, "console/applications/form.html", {"form": form, "application": None})


@require_GET
@role_required(Action.VIEW_APPLICATIONS)
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _get_application(pk))


def _render_detail(
    request: HttpRequest, application: Application, token_form: TestTokenForm | None = None
) -> HttpResponse:
    apis = list(application.apis.all())
    servers = AuthorizationServer.objects.filter(kind=ServerKind.INTERNAL)
    if token_form is None and servers.exists():
        token_form = TestTokenForm(servers=servers, audiences=_audiences(servers, application))
    internal_apis = [api for api in apis if _trusts_internal_issuer(api)]
    context = {
        "application": application,
        "apis": apis,
        # The gateway's client id and secret matter only to its own issuer: shown up front
        # where an API trusts it (or no claim identifies the application otherwise).
        "internal_apis": internal_apis,
        "uses_internal_issuer": bool(internal_apis or not application.identifying_claims),
        "example_path": _example_path(apis),
        "new_secret": _take_secret(request, application),
        "test_token_form": token_form,
        "test_token": _take_secret(request, application, TOKEN_SESSION_KEY),
    }
    response = render(request, "console/applications/detail.html", context)
    if context["new_secret"] or context["test_token"]:
        # Shown once: Back, a shared proxy or the disk cache must not show it again.
        never_store(response)
    return response


def _trusts_internal_issuer(api) -> bool:
    policy = getattr(api, "policy", None)
    return policy is not None and any(
        server.kind == ServerKind.INTERNAL for server in policy.authorization_servers.all()
    )


def _example_path(apis: list) -> str:
    """A path of the first API's first route, to prefill "Inspect a call" with."""
    route = apis[0].routes.first() if apis else None
    return example_path(route.path) if route is not None else "/"


def _audiences(servers, application: Application) -> set[str]:
    """Audiences the application may ask the internal issuers for (suggestions only)."""
    return set().union(*(allowed_audiences(server, application) for server in servers))


@require_POST
@role_required(Action.ISSUE_TEST_TOKENS)
def application_test_token(request: HttpRequest, pk: int) -> HttpResponse:
    application = _get_application(pk)
    servers = AuthorizationServer.objects.filter(kind=ServerKind.INTERNAL)
    form = TestTokenForm(request.POST, servers=servers, audiences=_audiences(servers, application))
    if form.is_valid():
        data = form.cleaned_data
        try:
            token = test_tokens.issue_test_token(
                application,
                data["server"],
                audience=data["audience"].strip(),
                scope=data["scope"],
                actor=request.user,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            _hand_over_secret(request, application, token, TOKEN_SESSION_KEY)
            messages.success(request, f"Test token issued by {data['server']}.")
            return redirect(reverse("console:application-detail", args=[pk]) + "#test-token")
    return _render_detail(request, application, token_form=form)


@require_http_methods(["GET", "POST"])
@role_required(Action.CHANGE_APPLICATIONS)
def application_edit(request: HttpRequest, pk: int) -> HttpResponse:
    application = _get_application(pk)
    form = ApplicationForm(request.POST or None, instance=application)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_application(
                application,
                actor=request.user,
                apis=data["apis"],
                name=data["name"],
                description=data["description"],
                identifying_claims=data["identifying_claims"],
                custom_claims=data["custom_claims"],
                **{name: data[name] for name in OAUTH_FIELDS},
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{application} saved.")
            return redirect("console:application-detail", application.pk)
    context = {"form": form, "application": _get_application(pk)}
    return render(request, "console/applications/form.html", context)


@require_GET
@role_required(Action.CHANGE_APPLICATIONS)
def application_suspend_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    application = _get_application(pk)
    return confirm(
        request,
        title=f"Suspend {application}?",
        question="Its tokens stop being accepted by every API until you resume it.",
        consequences=["Its calls get 403 application_not_authorized within a second."],
        action_url=reverse("console:application-suspend", args=[application.pk]),
        cancel_url=reverse("console:application-detail", args=[application.pk]),
        button="Suspend",
    )


@require_POST
@role_required(Action.CHANGE_APPLICATIONS)
def application_suspend(request: HttpRequest, pk: int) -> HttpResponse:
    application = _get_application(pk)
    services.update_application(application, actor=request.user, status=ApplicationStatus.SUSPENDED)
    messages.success(request, f"{application} is suspended.")
    return redirect("console:application-detail", application.pk)


@require_POST
@role_required(Action.CHANGE_APPLICATIONS)
def application_resume(request: HttpRequest, pk: int) -> HttpResponse:
    application = _get_application(pk)
    services.update_application(application, actor=request.user, status=ApplicationStatus.ACTIVE)
    messages.success(request, f"{application} is active again.")
    return redirect("console:application-detail", application.pk)


@require_GET
@role_required(Action.ROTATE_APPLICATION_SECRETS)
def application_rotate_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    application = _get_application(pk)
    return confirm(
        request,
        title=f"Rotate the client secret of {application}?",
        question="A new secret is generated and shown once.",
        consequences=[
            "The current secret stops working at once: update the client before its next "
            "token request.",
            "Tokens already issued stay valid until they expire.",
        ],
        action_url=reverse("console:application-rotate", args=[application.pk]),
        cancel_url=reverse("console:application-detail", args=[application.pk]),
        button="Rotate secret",
    )


@require_POST
@role_required(Action.ROTATE_APPLICATION_SECRETS)
def application_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    application = _get_application(pk)
    try:
        secret = services.rotate_secret(application, actor=request.user)
    except ValidationError as exc:  # a public client has no secret
        messages.error(request, " ".join(exc.messages))
        return redirect("console:application-detail", application.pk)
    _hand_over_secret(request, application, secret)
    messages.success(request, "New client secret generated; the old one no longer works.")
    return redirect("console:application-detail", application.pk)


@require_GET
@role_required(Action.DELETE_APPLICATIONS)
def application_delete_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    application = _get_application(pk)
    return confirm(
        request,
        title=f"Delete {application}?",
        question="This cannot be undone.",
        consequences=[
            "Its tokens stop being accepted by every API.",
            "Its OAuth2 client (client id and secret) is deleted too.",
        ],
        action_url=reverse("console:application-delete", args=[application.pk]),
        cancel_url=reverse("console:application-detail", args=[application.pk]),
        button="Delete application",
    )


@require_POST
@role_required(Action.DELETE_APPLICATIONS)
def application_delete(request: HttpRequest, pk: int) -> HttpResponse:
    application = _get_application(pk)
    name = str(application)
    services.delete_application(application, actor=request.user)
    messages.success(request, f"{name} deleted.")
    return redirect("console:application-list")
