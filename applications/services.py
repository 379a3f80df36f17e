"""Domain operations on applications, shared by the admin, REST API and console."""

from django.core.exceptions import ValidationError
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from applications.models import Application
from core.audit import record_event, snapshot

OAuthClient = get_application_model()


def _new_client(name: str, secret: str, redirect_uris: str = ""):
    # DOT's client holds one authorization_grant_type; the internal issuer ignores it
    # and lets every active gateway application use client_credentials, password,
    # authorization_code (PKCE) and refresh_token (issuer/validators.py).
    # The code flow also needs redirect_uris: space-separated, exact-match URIs.
    client = OAuthClient(
        name=name[:255],
        client_type=OAuthClient.CLIENT_CONFIDENTIAL,
        authorization_grant_type=OAuthClient.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        redirect_uris=redirect_uris,
    )
    client.full_clean(exclude=["client_id", "client_secret", "user"])
    client.save()
    return client


def create_application(
    actor=None, apis=(), redirect_uris: str = "", **fields
) -> tuple[Application, str]:
    """Create the application and its OAuth2 client; the plain secret is returned only here."""
    with transaction.atomic():
        secret = generate_client_secret()
        client = _new_client(fields.get("name", ""), secret, redirect_uris)
        application = Application(oauth_client=client, **fields)
        application.full_clean()
        application.save()
        application.apis.set(apis)
        record_event(actor, "create", application, None, snapshot(application))
    return application, secret


def update_application(application: Application, actor=None, apis=None, **fields) -> Application:
    with transaction.atomic():
        before = snapshot(Application.objects.get(pk=application.pk))
        for name, value in fields.items():
            setattr(application, name, value)
        application.full_clean()
        application.save()
        if apis is not None:
            application.apis.set(apis)
        if application.oauth_client and application.oauth_client.name != application.name:
            application.oauth_client.name = application.name
            application.oauth_client.save(update_fields=["name"])
        record_event(actor, "update", application, before, snapshot(application))
    return application


def rotate_secret(application: Application, actor=None) -> str:
    """A new client secret; the old one stops working at once."""
    with transaction.atomic():
        secret = generate_client_secret()
        client = application.oauth_client
        if client is None:
            client = _new_client(application.name, secret)
            application.oauth_client = client
            application.save(update_fields=["oauth_client"])
        else:
            client.client_secret = secret
            client.save()
        record_event(actor, "rotate-secret", application)
    return secret


def delete_application(application: Application, actor=None) -> None:
    with transaction.atomic():
        record_event(actor, "delete", application, snapshot(application), None)
        client = application.oauth_client
        application.delete()
        if client is not None:
            client.delete()


def set_redirect_uris(application: Application, redirect_uris: str, actor=None) -> None:
    """Where the authorization-code flow may send the user back (space-separated URIs)."""
    with transaction.atomic():
        client = application.oauth_client
        before = client.redirect_uris
        client.redirect_uris = redirect_uris
        client.full_clean(exclude=["client_id", "client_secret", "user"])
        client.save(update_fields=["redirect_uris", "updated"])
        record_event(
            actor,
            "set-redirect-uris",
            application,
            {"redirect_uris": before},
            {"redirect_uris": redirect_uris},
        )


def issue_test_token(
    application: Application, server, *, audience: str = "", scope: str = "", actor=None
) -> str:
    """A token the internal issuer signs for this application, as its token endpoint would.

    For trying an API from the console; the audience must be one the application may
    request (the server's default or an audience of its APIs that trust the server).
    """
    # Imported here: the internal issuer imports this app's models.
    from apis.validators import validate_scope_list
    from authservers.choices import ServerKind
    from authservers.signing import SigningKeyError, issue_access_token
    from issuer.tokens import allowed_audiences

    errors = {}
    if server.kind != ServerKind.INTERNAL:
        errors["server"] = [f"{server} is external; only the internal issuer signs tokens here."]
    elif audience and audience not in allowed_audiences(server, application):
        errors["audience"] = [f"{application} may not request the audience {audience!r}."]
    if application.oauth_client is None:
        errors["server"] = ["The application has no client id; rotate its secret to get one."]
    scopes = scope.split()
    try:
        validate_scope_list(scopes)
    except ValidationError as exc:
        errors["scope"] = exc.messages
    if errors:
        raise ValidationError(errors)
    try:
        token = issue_access_token(
            server,
            subject=application.client_id,
            client_id=application.client_id,
            scope=" ".join(scopes),
            audience=audience or server.default_audience or None,
            custom_claims=application.custom_claims,
        )
    except SigningKeyError as exc:
        raise ValidationError({"server": [str(exc)]}) from None
    record_event(
        actor, "issue-test-token", application, None, {"server": server.pk, "scope": scope}
    )
    return token
