"""Domain operations on applications, shared by the admin, REST API and console."""

from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from applications.models import Application
from core import changes

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
        changes.save(application, actor, related={"apis": apis})
    return application, secret


def save_application(application: Application, actor=None, *, apis=None) -> Application:
    """Create or update the application; a new one gets an OAuth2 client whose secret
    nobody has seen (rotate it to get one)."""
    if application.pk is None and application.oauth_client is None:
        return create_application(actor, apis=apis or (), **_field_values(application))[0]
    with transaction.atomic():
        changes.save(application, actor, related={} if apis is None else {"apis": apis})
        client = application.oauth_client
        if client is not None and client.name != application.name[:255]:
            client.name = application.name[:255]
            client.save(update_fields=["name"])
    return application


def update_application(application: Application, actor=None, apis=None, **fields) -> Application:
    for name, value in fields.items():
        setattr(application, name, value)
    return save_application(application, actor, apis=apis)


def _field_values(application: Application) -> dict:
    return {
        field.name: getattr(application, field.name)
        for field in application._meta.concrete_fields
        if field.editable and not field.primary_key and field.name != "oauth_client"
    }


def rotate_secret(application: Application, actor=None) -> str:
    """A new client secret; the old one stops working at once."""
    with changes.changing(application, actor, "rotate-secret", describe=_no_details):
        secret = generate_client_secret()
        client = application.oauth_client
        if client is None:
            client = _new_client(application.name, secret)
            application.oauth_client = client
            application.save(update_fields=["oauth_client"])
        else:
            client.client_secret = secret
            client.save()
    return secret


def _no_details(application: Application) -> None:
    return None  # a secret change: the audit says that it happened, never what it is


def delete_application(application: Application, actor=None) -> None:
    with transaction.atomic():
        client = application.oauth_client
        changes.delete(application, actor)
        if client is not None:
            client.delete()


def set_redirect_uris(application: Application, redirect_uris: str, actor=None) -> None:
    """Where the authorization-code flow may send the user back (space-separated URIs)."""
    client = application.oauth_client

    def describe(_application) -> dict:
        return {"redirect_uris": client.redirect_uris}

    with changes.changing(application, actor, "set-redirect-uris", describe=describe):
        client.redirect_uris = redirect_uris
        client.full_clean(exclude=["client_id", "client_secret", "user"])
        client.save(update_fields=["redirect_uris", "updated"])
