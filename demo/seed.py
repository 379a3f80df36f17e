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
from apis.services import activate_api
from applications.models import Application
from applications.services import create_application, rotate_secret
from authservers.choices import ServerKind
from authservers.models import AuthorizationServer
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


def ensure_demo(base_url: str, reset_password: bool = False, new_secret: bool = False) -> Demo:
    base_url = base_url.rstrip("/")
    try:
        validate_issuer_url(base_url)
    except ValidationError as exc:
        raise DemoError(f"--base-url {base_url}: {' '.join(exc.messages)}") from None
    with transaction.atomic():
        server, previous_issuer = _issuer(base_url)
        api = _api(base_url, server)
        application, secret = _application(api, new_secret)
        password = _admin(reset_password)
    ensure_signing_keys(server)
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
        _save(server)
        return server, None
    previous = server.issuer if server.issuer != base_url else None
    if previous:
        # The issuer is the URL clients reach this gateway at; follow --base-url.
        server.issuer = base_url
        _save(server)
    return server, previous


def _api(base_url: str, server: AuthorizationServer) -> Api:
    api = Api.objects.filter(base_path=DEMO_BASE_PATH).first() or Api(base_path=DEMO_BASE_PATH)
    api.name, api.version = "Demo echo", "v1"
    # The echo lives on the control plane's internal listener (GATEWAY_DEMO=true).
    api.upstream_url = f"{settings.GATEWAY_INTERNAL_URL}/demo/echo"
    api.description = "Created by manage.py gateway_demo: echoes what the gateway forwards."
    _save(api)
    for method, path, scopes, anonymous in (
        ("GET", "/hello", ["demo:read"], False),
        ("POST", "/hello", ["demo:write"], False),
        ("GET", "/public", [], True),
    ):
        Route.objects.update_or_create(
            api=api,
            method=method,
            path=path,
            defaults={"required_scopes": scopes, "anonymous": anonymous},
        )
    policy, _ = IdentifyAndAuthorizePolicy.objects.get_or_create(
        api=api, defaults={"audiences": [DEMO_AUDIENCE]}
    )
    if DEMO_AUDIENCE not in policy.audiences:
        policy.audiences = [*policy.audiences, DEMO_AUDIENCE]
        policy.save(update_fields=["audiences"])
    policy.authorization_servers.add(server)
    if not api.is_active:
        problems = activate_api(api)
        if problems:
            raise DemoError("The demo API cannot be activated: " + " ".join(problems))
    return api


def _application(api: Api, new_secret: bool) -> tuple[Application, str | None]:
    application = Application.objects.filter(name=DEMO_APPLICATION).first()
    if application is None:
        return create_application(
            name=DEMO_APPLICATION,
            description="Created by manage.py gateway_demo.",
            apis=[api],
            custom_claims={"plan": "demo"},
        )
    application.apis.add(api)
    if new_secret or application.oauth_client is None:
        return application, rotate_secret(application)
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


def _save(instance) -> None:
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise DemoError(f"{instance._meta.verbose_name}: {exc.messages}") from None
    instance.save()
