"""Domain operations on applications, shared by the admin, REST API and console."""

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from applications.choices import ClientType, GrantType, default_grant_types
from applications.models import Application
from core import changes

OAuthClient = get_application_model()


def _uri_list(value) -> list:
    """Redirect URIs as a list; a string is space- or newline-separated (DOT's form)."""
    return value.split() if isinstance(value, str) else list(value)


def _sync_client(application: Application, client) -> None:
    _mirror(application, client)
    client.full_clean(exclude=["client_id", "client_secret", "user"])
    client.save()


def _mirror(application: Application, client) -> None:
    """Mirror the application's OAuth2 settings onto its DOT client and save it.

    The Application is the source of truth. DOT matches redirect_uris and reads
    client_type (a public client authenticates with its client id alone); its single
    authorization_grant_type is informational, since issuer/validators.py checks the
    application's grant_types. A client that becomes public gets a fresh secret nobody
    sees, so no secret issued while it was confidential works any more.
    """
    if application.is_public and client.client_type != OAuthClient.CLIENT_PUBLIC:
        client.client_secret = generate_client_secret()
    client.name = application.name[:255]
    client.client_type = application.client_type
    client.redirect_uris = " ".join(application.redirect_uris)
    client.authorization_grant_type = (
        OAuthClient.GRANT_AUTHORIZATION_CODE
        if GrantType.AUTHORIZATION_CODE in application.grant_types
        else OAuthClient.GRANT_CLIENT_CREDENTIALS
    )


def create_application(
    actor=None, apis=(), *, client_id: str | None = None, client_secret: str | None = None, **fields
) -> tuple[Application, str | None]:
    """Create the application and its OAuth2 client; the plain secret is returned only
    here (None for a public client, which has none).

    Without `grant_types`, the application gets every grant its client type and
    redirect URIs make usable (applications.choices.default_grant_types).
    `client_id` and `client_secret` (plain, or a stored hash kept as it is) are given by
    a configuration file (configfile/); otherwise both are generated.
    """
    fields["redirect_uris"] = _uri_list(fields.get("redirect_uris", ()))
    fields.setdefault(
        "grant_types",
        default_grant_types(
            fields.get("client_type", ClientType.CONFIDENTIAL), fields["redirect_uris"]
        ),
    )
    application = Application(**fields)
    # The application's rules first, so their errors name its fields, not the DOT client's.
    application.full_clean(exclude=["oauth_client"])
    with transaction.atomic():
        secret = client_secret or generate_client_secret()
        client = OAuthClient(client_secret=secret)
        if client_id:
            client.client_id = client_id
        _sync_client(application, client)
        application.oauth_client = client
        changes.save(application, actor, related={"apis": apis})
    return application, None if application.is_public else secret


@dataclass
class NewApplication:
    """An application to create (create_applications), as create_application takes it."""

    application: Application
    apis: list = field(default_factory=list)
    client_id: str | None = None
    client_secret: str | None = None  # plain, or a stored hash kept as it is
    # After creation: the secret to show once (generated, confidential clients only).
    plain_secret: str | None = None


def create_applications(new: list[NewApplication], actor=None) -> changes.Invalid:
    """create_application for many: the same rules (Application.clean and the OAuth2
    client's, in memory), the clients inserted in batches (a secret given as a stored
    hash is kept, a plain one hashed once), one audit event per application.

    Returns what breaks a rule; then nothing is written. Names and client ids are the
    caller's to keep unique (a file names each once); the database refuses duplicates.
    """
    for item in new:
        application = item.application
        application.redirect_uris = _uri_list(application.redirect_uris)
    invalid = changes.validate_many([item.application for item in new], exclude=["oauth_client"])
    if invalid:
        return invalid
    clients = []
    for item in new:
        secret = item.client_secret or generate_client_secret()
        # A given client id in the constructor: none generated to be thrown away.
        given = {"client_id": item.client_id} if item.client_id else {}
        client = OAuthClient(client_secret=secret, **given)
        _mirror(item.application, client)
        clients.append(client)
        if not item.application.is_public and item.client_secret is None:
            item.plain_secret = secret
    invalid = changes.validate_many(clients, exclude=["client_id", "client_secret", "user"])
    if invalid:
        # The client mirrors its application: its errors are the application's.
        owners = {id(client): item.application for item, client in zip(new, clients, strict=True)}
        return [(owners[id(client)], exc) for client, exc in invalid]
    taken = _client_ids_in_use([item.client_id for item in new if item.client_id])
    if taken:
        return [
            (item.application, ValidationError({"client_id": "This client id is already in use."}))
            for item in new
            if item.client_id in taken
        ]
    with transaction.atomic():
        OAuthClient.objects.bulk_create(clients, batch_size=changes.BATCH_SIZE)
        for item, client in zip(new, clients, strict=True):
            item.application.oauth_client = client
        # Served once one of its APIs is (applications/config_reads.py): the APIs are
        # at hand, so no query per application to ask.
        changes.create_many(
            [item.application for item in new],
            actor,
            related=[{"apis": item.apis} for item in new],
            announce=any(api.is_active for item in new for api in item.apis),
        )
    return []


def _client_ids_in_use(client_ids: list[str]) -> set[str]:
    """Which of these client ids an OAuth2 client already has (in batches: SQLite limits the
    parameters of one query)."""
    taken: set[str] = set()
    for start in range(0, len(client_ids), changes.BATCH_SIZE):
        batch = client_ids[start : start + changes.BATCH_SIZE]
        clients = OAuthClient.objects.filter(client_id__in=batch)
        taken.update(clients.values_list("client_id", flat=True))
    return taken


def save_application(application: Application, actor=None, *, apis=None) -> Application:
    """Create or update the application; a new one gets an OAuth2 client whose secret
    nobody has seen (rotate it to get one)."""
    if application.pk is None and application.oauth_client is None:
        return create_application(actor, apis=apis or (), **_field_values(application))[0]
    with transaction.atomic():
        changes.save(application, actor, related={} if apis is None else {"apis": apis})
        if application.oauth_client is not None:
            _sync_client(application, application.oauth_client)
    return application


def update_application(application: Application, actor=None, apis=None, **fields) -> Application:
    if "redirect_uris" in fields:
        fields["redirect_uris"] = _uri_list(fields["redirect_uris"])
    for name, value in fields.items():
        setattr(application, name, value)
    return save_application(application, actor, apis=apis)


def _field_values(application: Application) -> dict:
    return {
        field.name: getattr(application, field.name)
        for field in application._meta.concrete_fields
        if field.editable and not field.primary_key and field.name != "oauth_client"
    }


def rotate_secret(application: Application, actor=None, secret: str | None = None) -> str:
    """A new client secret; the old one stops working at once. Public clients have none.

    `secret` (plain, or a stored hash kept as it is) is the new one when a configuration
    file names it; otherwise one is generated."""
    if application.is_public:
        raise ValidationError(
            "A public client has no client secret; it authenticates with its client id "
            "and PKCE. Make it confidential to give it a secret."
        )
    with changes.changing(application, actor, "rotate-secret", describe=_no_details):
        secret = secret or generate_client_secret()
        client = application.oauth_client
        if client is None:
            client = OAuthClient(client_secret=secret)
            _sync_client(application, client)
            application.oauth_client = client
        else:
            client.client_secret = secret
            client.save()
        # A new secret is a change to the application: its last-changed date moves.
        application.save(update_fields=["oauth_client", "updated_at"])
    return secret


def _no_details(application: Application) -> None:
    return None  # a secret change: the audit says that it happened, never what it is


def delete_application(application: Application, actor=None) -> None:
    with transaction.atomic():
        client = application.oauth_client
        changes.delete(application, actor)
        if client is not None:
            client.delete()


def set_redirect_uris(application: Application, redirect_uris, actor=None) -> Application:
    """Where the authorization-code flow may send the user back: a list, or DOT's
    space-separated string. An ordinary update (validated by Application.clean())."""
    return update_application(application, actor, redirect_uris=redirect_uris)
