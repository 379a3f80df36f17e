"""Demo data for `manage.py gateway_demo`, and the tiny echo upstream it publishes.

`ensure_demo()` is idempotent: the internal issuer, an active echo API trusting
it, an application with a client id and secret, and a staff superuser. Secrets
are generated once and returned only when created (or reset on request).
"""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.services import activate_api, save_api, save_policy, save_route
from applications.models import Application
from applications.services import create_application, rotate_secret, save_application
from authservers.choices import ServerKind
from authservers.models import AuthorizationServer
from authservers.services import save_server
from authservers.signing import ensure_signing_keys
from authservers.validators import validate_issuer_url

DEMO_BASE_PATH = "/demo/v1"
DEMO_AUDIENCE = "demo"
DEMO_APPLICATION = "Demo app"
DEMO_ADMIN = "admin"
# Credentials the client sent are never reflected back by the echo view.
_REDACTED = {"authorization", "cookie", "proxy-authorization"}


class DemoError(Exception):
    """The demo cannot be set up as asked; the message says why."""


@dataclass
class Demo:
    server: AuthorizationServer
    api: Api
    application: Application
    client_secret: str | None  # None unless created or rotated just now
    admin_password: str | None  # likewise
    issuer_changed_from: str | None


@csrf_exempt
def echo(request: HttpRequest, rest: str = "") -> JsonResponse:
    if not settings.GATEWAY_DEMO:
        raise Http404("The demo upstream is off (GATEWAY_DEMO).")
    headers = {
        name.lower(): "<redacted>" if name.lower() in _REDACTED else value
        for name, value in request.headers.items()
    }
    return JsonResponse(
        {
            "method": request.method,
            "path": "/" + rest,
            "query": request.META.get("QUERY_STRING", ""),
            "headers": headers,
        }
    )


# Audit events of the demo name this actor.
ACTOR = "gateway_demo"


def ensure_demo(base_url: str, reset_password: bool = False, new_secret: bool = False) -> Demo:
    """Create (or bring back) the demo through the services every other entry point uses;
    running it again changes only what differs."""
    base_url = base_url.rstrip("/")
    try:
        validate_issuer_url(base_url)
    except ValidationError as exc:
        raise DemoError(f"--base-url {base_url}: {' '.join(exc.messages)}") from None
    try:
        with transaction.atomic():
            server, previous_issuer = _issuer(base_url)
            api = _api(base_url, server)
            application, secret = _application(api, new_secret)
            password = _admin(reset_password)
        ensure_signing_keys(server)  # a server made before the write path made its keys
    except ValidationError as exc:
        raise DemoError(" ".join(exc.messages)) from None
    return Demo(server, api, application, secret, password, previous_issuer)


def _issuer(base_url: str) -> tuple[AuthorizationServer, str | None]:
    server = AuthorizationServer.objects.filter(kind=ServerKind.INTERNAL).order_by("pk").first()
    if server is None:
        server = AuthorizationServer(
            name="Gatekeep",
            kind=ServerKind.INTERNAL,
            issuer=base_url,
            required_typ="at+jwt",
            default_audience=DEMO_AUDIENCE,
        )
        return save_server(server, ACTOR), None
    previous = server.issuer if server.issuer != base_url else None
    if previous:
        # The issuer is the URL clients reach this gateway at; follow --base-url.
        server.issuer = base_url
        save_server(server, ACTOR)
    return server, previous


def _api(base_url: str, server: AuthorizationServer) -> Api:
    api = Api.objects.filter(base_path=DEMO_BASE_PATH).first() or Api(base_path=DEMO_BASE_PATH)
    if _assign(
        api,
        name="Demo echo",
        version="v1",
        # The echo lives on the control plane's internal listener (GATEWAY_DEMO=true).
        upstream_url=f"{settings.GATEWAY_INTERNAL_URL}/demo/echo",
        description="Created by manage.py gateway_demo: echoes what the gateway forwards.",
    ):
        save_api(api, ACTOR)
    for method, path, scopes, anonymous in (
        ("GET", "/hello", ["demo:read"], False),
        ("POST", "/hello", ["demo:write"], False),
        ("GET", "/public", [], True),
    ):
        route = Route.objects.filter(api=api, method=method, path=path).first()
        route = route or Route(api=api, method=method, path=path)
        if _assign(route, required_scopes=scopes, anonymous=anonymous):
            save_route(route, ACTOR)
    policy = IdentifyAndAuthorizePolicy.objects.filter(api=api).first()
    policy = policy or IdentifyAndAuthorizePolicy(api=api, audiences=[])
    servers = list(policy.authorization_servers.all()) if policy.pk else []
    audiences = policy.audiences
    if policy.pk is None or DEMO_AUDIENCE not in audiences or server not in servers:
        policy.audiences = audiences if DEMO_AUDIENCE in audiences else [*audiences, DEMO_AUDIENCE]
        save_policy(policy, ACTOR, authorization_servers=[*servers, server])
    if not api.is_active:
        problems = activate_api(api, ACTOR)
        if problems:
            raise DemoError("The demo API cannot be activated: " + " ".join(problems))
    return api


def _assign(instance, **values) -> bool:
    """Set `values` on `instance`; True when it is new or any of them changed."""
    changed = instance.pk is None
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed = True
    return changed


def _application(api: Api, new_secret: bool) -> tuple[Application, str | None]:
    application = Application.objects.filter(name=DEMO_APPLICATION).first()
    if application is None:
        return create_application(
            ACTOR,
            name=DEMO_APPLICATION,
            description="Created by manage.py gateway_demo.",
            apis=[api],
            custom_claims={"plan": "demo"},
        )
    apis = list(application.apis.all())
    if api not in apis:
        save_application(application, ACTOR, apis=[*apis, api])
    if new_secret or application.oauth_client is None:
        return application, rotate_secret(application, ACTOR)
    return application, None


def _admin(reset_password: bool) -> str | None:
    users = get_user_model()
    user = users.objects.filter(username=DEMO_ADMIN).first()
    if user is not None and not reset_password:
        return None
    password = secrets.token_urlsafe(12)
    if user is None:
        users.objects.create_superuser(DEMO_ADMIN, "", password)
    else:
        user.set_password(password)
        user.is_active = user.is_staff = user.is_superuser = True
        user.save()
    return password
