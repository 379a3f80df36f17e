"""Authorization servers: list with key health, create/edit, Refresh now, Rotate and Revoke keys."""

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Action
from apis.models import Api
from apis.services import active_apis_trusting, delete_server
from authservers import services, signing
from authservers.choices import ServerKind
from authservers.models import (
    AuthorizationServer,
    JwksFetchFailure,
    JwksSnapshot,
    KeySighting,
    SigningKey,
    SigningKeyState,
)
from console.access import role_required
from console.common import FIRST_ROWS, apply_errors, confirm, paginate
from console.forms.servers import ServerForm
from console.listing import Column, Listing
from core.hosts import public_url

# The server list's sortable columns (name and issuer are unique).
COLUMNS = {
    "name": Column(("name",)),
    "kind": Column(("kind", "name")),
    "issuer": Column(("issuer",)),
    "updated": Column(("updated_at", "pk"), dated=True),
}

# The internal issuer's endpoints (issuer/urls.py), by URL name.
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
@role_required(Action.VIEW_SERVERS)
def server_list(request: HttpRequest) -> HttpResponse:
    listing = Listing(request, COLUMNS, "name")
    servers = listing.apply(AuthorizationServer.objects.select_related("jwks_snapshot"))
    page = paginate(request, servers, per_page=listing.page_size)
    rows = [(server, services.key_health(server)) for server in page]
    context = {"rows": rows, "page": page, "listing": listing}
    return render(request, "console/servers/list.html", context)


@require_http_methods(["GET", "POST"])
@role_required(Action.CREATE_SERVERS)
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
    """Report the key fetch save_server queued for an external server (done already when
    Celery runs tasks inline, else in the background); an internal one made its keys."""
    if server.kind != ServerKind.EXTERNAL:
        return
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


@require_GET
@role_required(Action.VIEW_SERVERS)
def server_detail(request: HttpRequest, pk: int) -> HttpResponse:
    server = _get_server(pk)
    internal = server.kind == ServerKind.INTERNAL
    snapshot = _snapshot(server)
    trusting = Api.objects.filter(policy__authorization_servers=server).order_by("base_path")
    context = {
        "server": server,
        "snapshot": snapshot,
        "health": services.key_health(server),
        "apis": list(trusting[:FIRST_ROWS]),
        "api_count": trusting.count(),
        "internal": internal,
        "signing_keys": _signing_keys(server) if internal else [],
        "endpoints": _endpoints(request) if internal else [],
        **key_history_context(server, snapshot),
    }
    return render(request, "console/servers/detail.html", context)


def key_history_context(server: AuthorizationServer, snapshot: JwksSnapshot | None) -> dict:
    """Per-key details, the failures kept, and the raw documents last fetched."""
    current = set(snapshot.key_ids) if snapshot else set()
    sightings = list(KeySighting.objects.filter(server=server)[:100])
    for sighting in sightings:
        sighting.current = sighting.kid in current
    return {
        "key_sightings": sightings,
        "fetch_failures": list(
            JwksFetchFailure.objects.filter(server=server)[: settings.JWKS_FAILURE_HISTORY]
        ),
        "failure_limit": settings.JWKS_FAILURE_HISTORY,
        "discovery_json": _pretty(snapshot.discovery_document if snapshot else None),
        "jwks_json": _pretty(snapshot.jwks_document if snapshot else None),
    }


def _pretty(document) -> str:
    return json.dumps(document, indent=2, sort_keys=True) if document is not None else ""


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
            found.append((label, public_url(reverse(name))))
        except NoReverseMatch:
            continue
    return found


@require_http_methods(["GET", "POST"])
@role_required(Action.CHANGE_SERVERS)
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
@role_required(Action.REFRESH_KEYS)
def server_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    _report_refresh(request, _get_server(pk))
    return redirect("console:server-detail", pk)


@require_GET
@role_required(Action.ROTATE_SIGNING_KEYS)
def server_rotate_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    server = get_object_or_404(AuthorizationServer, pk=pk, kind=ServerKind.INTERNAL)
    return confirm(
        request,
        title=f"Rotate the signing key of {server}?",
        question="The published next key starts signing; a new next key is published.",
        consequences=[
            "The current key is retired but stays published until its tokens expire, "
            "so tokens already issued keep working.",
            "The next key must have been published for "
            f"{settings.GATEWAY_JWKS_MAX_AGE_SECONDS} s (how long verifiers cache the key "
            "set); a rotation sooner than that is refused.",
        ],
        action_url=reverse("console:server-rotate", args=[server.pk]),
        cancel_url=reverse("console:server-detail", args=[server.pk]),
        button="Rotate key",
        danger=False,
    )


@require_POST
@role_required(Action.ROTATE_SIGNING_KEYS)
def server_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    server = get_object_or_404(AuthorizationServer, pk=pk, kind=ServerKind.INTERNAL)
    try:
        key = signing.rotate_signing_key(server, actor=request.user)
    except signing.SigningKeyError as exc:  # RotationTooSoon's message says when it can
        messages.error(request, f"The key was not rotated: {exc}")
    else:
        messages.success(request, f"Key {key.kid} signs now; the previous key is retired.")
    return redirect("console:server-detail", server.pk)


def _get_signing_key(server: AuthorizationServer, kid: str) -> SigningKey:
    return get_object_or_404(SigningKey, server=server, kid=kid)


@require_GET
@role_required(Action.REVOKE_SIGNING_KEYS)
def server_revoke_confirm(request: HttpRequest, pk: int, kid: str) -> HttpResponse:
    server = get_object_or_404(AuthorizationServer, pk=pk, kind=ServerKind.INTERNAL)
    key = _get_signing_key(server, kid)
    if key.state == SigningKeyState.REVOKED:
        messages.info(request, f"Key {key.kid} was already revoked at {key.revoked_at}.")
        return redirect(reverse("console:server-detail", args=[server.pk]) + "#signing-keys")
    consequences = [
        "It leaves the published JWKS now, and the gateway refuses every token it signed "
        "within a second, even those not yet expired.",
        "Its private key is destroyed: this cannot be undone.",
        "Verifiers outside the gateway may keep trusting it until their cached copy of the "
        f"JWKS expires (up to {settings.GATEWAY_JWKS_MAX_AGE_SECONDS} s).",
    ]
    if key.state == SigningKeyState.ACTIVE:
        consequences.insert(
            1,
            "It is the active key: the next key signs from now on, and a new next key "
            "is published. Clients must get new tokens.",
        )
    return confirm(
        request,
        title=f"Revoke signing key {key.kid}?",
        question=f"Emergency revocation of the {key.state} key {key.kid} of {server}.",
        consequences=consequences,
        action_url=reverse("console:server-revoke", args=[server.pk, key.kid]),
        cancel_url=reverse("console:server-detail", args=[server.pk]) + "#signing-keys",
        button="Revoke key now",
    )


@require_POST
@role_required(Action.REVOKE_SIGNING_KEYS)
def server_revoke(request: HttpRequest, pk: int, kid: str) -> HttpResponse:
    server = get_object_or_404(AuthorizationServer, pk=pk, kind=ServerKind.INTERNAL)
    key = _get_signing_key(server, kid)
    try:
        revocation = signing.revoke_signing_key(server, key.kid, actor=request.user)
    except signing.SigningKeyError as exc:
        messages.error(request, f"The key was not revoked: {exc}")
    else:
        signer = revocation.active.kid if revocation.active else "no key"
        messages.success(
            request, f"Key {revocation.kid} is revoked and no longer published; {signer} signs now."
        )
    return redirect(reverse("console:server-detail", args=[server.pk]) + "#signing-keys")


@require_GET
@role_required(Action.DELETE_SERVERS)
def server_delete_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    server = _get_server(pk)
    apis = list(Api.objects.filter(policy__authorization_servers=server).distinct())
    consequences = [f"{len(apis)} APIs trust it and stop accepting its tokens."] if apis else []
    active = active_apis_trusting(server)
    if active:
        names = ", ".join(str(api) for api in active)
        consequences.append(f"These active APIs are deactivated with it: {names}.")
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
@role_required(Action.DELETE_SERVERS)
def server_delete(request: HttpRequest, pk: int) -> HttpResponse:
    server = _get_server(pk)
    name = str(server)
    # The confirmation listed the active APIs that trust it: they are deactivated with it.
    delete_server(server, actor=request.user, deactivate_apis=True)
    messages.success(request, f"{name} deleted.")
    return redirect("console:server-list")
