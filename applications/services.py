"""Domain operations on applications, shared by the admin, REST API and console."""

from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from gateway_admin.audit import record_event, snapshot

from .models import Application

OAuthClient = get_application_model()


def create_application(actor=None, apis=(), **fields) -> tuple[Application, str]:
    """Create the application and its OAuth2 client; the plain secret is returned only here."""
    with transaction.atomic():
        secret = generate_client_secret()
        client = OAuthClient.objects.create(
            name=fields.get("name", "")[:255],
            client_type=OAuthClient.CLIENT_CONFIDENTIAL,
            authorization_grant_type=OAuthClient.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,
        )
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
            client = OAuthClient.objects.create(
                name=application.name,
                client_type=OAuthClient.CLIENT_CONFIDENTIAL,
                authorization_grant_type=OAuthClient.GRANT_CLIENT_CREDENTIALS,
                client_secret=secret,
            )
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
