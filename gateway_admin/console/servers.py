"""Authorization servers: list with key health, create/edit, Refresh now, Rotate key."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apis.models import Api
from authservers import services, signing
from authservers.choices import ServerKind
from authservers.models import AuthorizationServer, JwksSnapshot, SigningKey

from .access import staff_required
from .common import apply_errors, confirm
from .forms import ServerForm

# The internal issuer's endpoints (authservers/oauth/urls.py), by URL name.
INTERNAL_ENDPOINTS = (
    ("Token", "oauth2-token"),
    ("JWKS", "oauth2-jwks"),
    ("Discovery", "openid-configuration"),
)


def _get_server(pk: int) -> AuthorizationServer:
    return get_object_or_404(AuthorizationServer, pk=pk)


def _snapshot(server: AuthorizationServer) -> JwksSnapshot | None:
    return JwksSnapshot.objects.filter(server=server).first()


def _report_refresh(request: HttpRequest, server: AuthorizationServer) -> None:
    outcome = services.refresh_jwks(server)
    if outcome.ok:
        keys = ", ".join(outcome.key_ids) or "none"
        messages.success(request, f"Keys of {server} refreshed: {keys}.")
        if outcome.error:
            messages.warning(request, outcome.error)
    else:
        messages.error(request, f"Could not refresh the keys of {server}: {outcome.error}")


@require_GET
@staff_required
def server_list(request: HttpRequest) -> HttpResponse:
    servers = AuthorizationServer.objects.select_related("jwks_snapshot")
    rows = [(server, services.key_health(server)) for server in servers]
    return render(request, "console/servers/list.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
@staff_required
def server_create(request: HttpRequest) -> HttpResponse:
    form = ServerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            server = services.save_server(form.save(commit=False), actor=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{server} created.")
            _start_keys(request, server)
            return redirect("console:server-detail", server.pk)
    return render(request, "console/servers/form.html", {"form": form, "server": None})


def _start_keys(request: HttpRequest, server: AuthorizationServer) -> None:
    """Create an internal server's keys; report the fetch save_server queued for an
    external one (done already when Celery runs tasks inline, else in the background)."""
    if server.kind == ServerKind.EXTERNAL:
        snapshot = _snapshot(server)
        if snapshot is not None and snapshot.fetched_at is not None:
            keys = ", ".join(snapshot.key_ids) or "none"
            messages.success(request, f"Keys of {server} fetched: {keys}.")
        elif snapshot is not None and snapshot.last_error:
            messages.error(request, f"Could not fetch the keys of {server}: {snapshot.last_error}")
        else:
            messages.info(
                request, f"Fetching the keys of {server} in the background; reload to see them."
            )
        return
    try:
        signing.ensure_signing_keys(server)
    except signing.SigningKeyError as exc:
        messages.error(request, f"No signing key was created: {exc}")


@require_GET
@staff_required
def server_detail(request: HttpRequest, pk: int) -> HttpResponse:
    server = _get_server(pk)
    internal = server.kind == ServerKind.INTERNAL
    context = {
        "server": server,
        "snapshot": _snapshot(server),
        "health": services.key_health(server),
        "apis": Api.objects.filter(policy__authorization_servers=server).distinct(),
        "internal": internal,
        "signing_keys": _signing_keys(server) if internal else [],
        "endpoints": _endpoints(request) if internal else [],
    }
    return render(request, "console/servers/detail.html", context)


def _signing_keys(server: AuthorizationServer) -> list[dict]:
    now = timezone.now()
    return [
        {"key": key, "age": now - key.created_at}
        for key in SigningKey.objects.filter(server=server).order_by("state", "-created_at")
    ]


def _endpoints(request: HttpRequest) -> list[tuple[str, str]]:
    found = []
    for label, name in INTERNAL_ENDPOINTS:
        try:
            found.append((label, request.build_absolute_uri(reverse(name))))
        except NoReverseMatch:
            continue
    return found


@require_http_methods(["GET", "POST"])
@staff_required
def server_edit(request: HttpRequest, pk: int) -> HttpResponse:
    server = _get_server(pk)
    form = ServerForm(request.POST or None, instance=server)
    if request.method == "POST" and form.is_valid():
        try:
            services.save_server(form.save(commit=False), actor=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"{server} saved.")
            return redirect("console:server-detail", server.pk)
    return render(request, "console/servers/form.html", {"form": form, "server": _get_server(pk)})


@require_POST
@staff_required
def server_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    _report_refresh(request, _get_server(pk))
    return redirect("console:server-detail", pk)


@require_GET
@staff_required
def server_rotate_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    server = get_object_or_404(AuthorizationServer, pk=pk, kind=ServerKind.INTERNAL)
    return confirm(
        request,
        title=f"Rotate the signing key of {server}?",
        question="The published next key starts signing; a new next key is published.",
        consequences=[
            "The current key is retired but stays published until its tokens expire, "
            "so tokens already issued keep working.",
        ],
        action_url=reverse("console:server-rotate", args=[server.pk]),
        cancel_url=reverse("console:server-detail", args=[server.pk]),
        button="Rotate key",
        danger=False,
    )


@require_POST
@staff_required
def server_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    server = get_object_or_404(AuthorizationServer, pk=pk, kind=ServerKind.INTERNAL)
    try:
        key = signing.rotate_signing_key(server, actor=request.user)
    except signing.SigningKeyError as exc:
        messages.error(request, f"The key was not rotated: {exc}")
    else:
        messages.success(request, f"Key {key.kid} signs now; the previous key is retired.")
    return redirect("console:server-detail", server.pk)


@require_GET
@staff_required
def server_delete_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    server = _get_server(pk)
    apis = list(Api.objects.filter(policy__authorization_servers=server).distinct())
    consequences = [f"{len(apis)} APIs trust it and stop accepting its tokens."] if apis else []
    if server.kind == ServerKind.INTERNAL:
        consequences.append("Its signing keys are deleted: tokens it issued stop verifying.")
    return confirm(
        request,
        title=f"Delete {server}?",
        question="This cannot be undone.",
        consequences=consequences,
        action_url=reverse("console:server-delete", args=[server.pk]),
        cancel_url=reverse("console:server-detail", args=[server.pk]),
        button="Delete server",
    )


@require_POST
@staff_required
def server_delete(request: HttpRequest, pk: int) -> HttpResponse:
    server = _get_server(pk)
    name = str(server)
    services.delete_server(server, actor=request.user)
    messages.success(request, f"{name} deleted.")
    return redirect("console:server-list")
