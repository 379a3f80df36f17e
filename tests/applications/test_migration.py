"""applications 0004: the OAuth2 settings the DOT client held until issue 20 are copied onto
each application, with every grant they make usable (what the issuer allowed before)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from applications.models import Application

BEFORE = [("applications", "0003_application_permissions")]
AFTER = [("applications", "0004_oauth_settings")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    # The models as the applied migrations (of every app) left them.
    loader = MigrationLoader(connection)
    return loader.project_state(list(loader.applied_migrations)).apps


@pytest.fixture
def every_migration_back():
    """Going back to applications 0003 also unapplies the apps that depend on it (traffic,
    policies, …); the tests after this one need all of them again."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("every_migration_back")
def test_existing_applications_keep_what_they_could_do():
    old = _migrate(BEFORE)
    Client = old.get_model("oauth2_provider", "Application")
    OldApplication = old.get_model("applications", "Application")

    def client(name, client_type, redirect_uris):
        return Client.objects.create(
            name=name,
            client_id=f"id-{name}",
            client_secret="x",
            client_type=client_type,
            authorization_grant_type="client-credentials",
            redirect_uris=redirect_uris,
        )

    OldApplication.objects.create(
        name="Web",
        oauth_client=client("Web", "confidential", "https://a.example/cb http://127.0.0.1/cb"),
    )
    OldApplication.objects.create(
        name="Backend", oauth_client=client("Backend", "confidential", "")
    )
    OldApplication.objects.create(
        name="SPA", oauth_client=client("SPA", "public", "https://spa.example/cb")
    )
    OldApplication.objects.create(name="Orphan")

    _migrate(AFTER)

    web, backend, spa, orphan = (
        Application.objects.get(name=n) for n in ("Web", "Backend", "SPA", "Orphan")
    )
    assert web.redirect_uris == ["https://a.example/cb", "http://127.0.0.1/cb"]
    assert web.grant_types == [
        "client_credentials",
        "authorization_code",
        "refresh_token",
        "password",
    ]
    assert backend.redirect_uris == []
    assert backend.grant_types == ["client_credentials", "refresh_token", "password"]
    assert spa.client_type == "public"
    assert spa.grant_types == ["authorization_code", "refresh_token"]
    assert orphan.grant_types == ["client_credentials", "refresh_token", "password"]
    for application in (web, backend, spa, orphan):
        assert application.allowed_scopes == []
        application.full_clean()  # every migrated application passes the new rules
