"""A small gateway built through the services, and helpers to read, apply and wipe it."""

import pytest
from oauth2_provider.models import get_application_model

from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from apis.services import activate_api, save_api, save_policy, save_route
from applications.models import Application
from applications.services import create_application
from authservers.choices import ServerKind
from authservers.models import AuthorizationServer
from authservers.services import save_server
from configfile.export import export_text
from core.models import AuditEvent, ConfigRevision
from tests.rest_api.conftest import anon_client, role_client, staff_client, staff_token, staff_user

__all__ = ["anon_client", "role_client", "staff_client", "staff_token", "staff_user"]


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    # Client secrets are hashed on every create; PBKDF2's cost is not under test here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def build_gateway(apis: int = 2, routes: int = 3, applications: int = 3) -> None:
    server = save_server(
        AuthorizationServer(
            name="gatekeep",
            kind=ServerKind.INTERNAL,
            issuer="http://127.0.0.1:8000",
            default_audience="shop",
        )
    )
    made = []
    for n in range(apis):
        api = save_api(
            Api(
                name=f"Shop {n}",
                version="v1",
                base_path=f"/shop{n}/v1",
                upstream_url="http://127.0.0.1:9000/shop",
                description=f"Shop number {n}",
            )
        )
        for r in range(routes):
            save_route(
                Route(
                    api=api, method="GET", path=f"/items{r}/{{id}}", required_scopes=["shop:read"]
                )
            )
        save_route(Route(api=api, method="POST", path="/orders", required_scopes=["shop:write"]))
        policy = IdentifyAndAuthorizePolicy(
            api=api, audiences=["shop"], forward_claims={"sub": "X-User", "azp": "X-Client"}
        )
        save_policy(policy, authorization_servers=[server])
        if n % 2 == 0:
            assert activate_api(api) == []
        made.append(api)
    for n in range(applications):
        create_application(
            apis=made[: 1 + n % len(made)] if made else (),
            name=f"client-{n:04d}",
            identifying_claims={"client_id": f"client-{n}"},
            custom_claims={"tier": "gold"} if n % 2 else {},
        )


@pytest.fixture
def gateway(db, django_capture_on_commit_callbacks):
    # The test's transaction never commits: run the commit callbacks, so the version
    # bumps of the set-up are over and the test's own changes are new versions.
    with django_capture_on_commit_callbacks(execute=True):
        build_gateway()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed(): apply(...)`: as if the apply's transaction committed."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def wipe() -> None:
    """Every configuration resource gone, as in a fresh database."""
    Application.objects.all().delete()
    get_application_model().objects.all().delete()
    Api.objects.all().delete()
    AuthorizationServer.objects.all().delete()


def version() -> str:
    revision = ConfigRevision.objects.filter(pk=1).first()
    return str(revision) if revision else ""


def audit_count() -> int:
    return AuditEvent.objects.count()


def applications_last(*, secret_hashes: bool = False) -> str:
    """An export cut after its applications, so a test can append applications to it (the
    kinds written after them are left out of that file: it does not manage them)."""
    return export_text(secret_hashes=secret_hashes).split("\npolicy_chains:", 1)[0] + "\n"
