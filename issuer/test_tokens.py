"""Tokens the internal issuer signs for an application on an admin's request (the console's
"try it" panel), exactly as its token endpoint would."""

from django.core.exceptions import ValidationError

from apis.validators import validate_scope_list
from applications.models import Application
from authservers.choices import ServerKind
from authservers.signing import SigningKeyError, issue_access_token
from core import changes
from issuer.tokens import allowed_audiences


def _allowed_scope(application: Application, scope: str) -> bool:
    return not application.allowed_scopes or scope in application.allowed_scopes


def issue_test_token(
    application: Application, server, *, audience: str = "", scope: str = "", actor=None
) -> str:
    """A token the internal issuer signs for this application, as its token endpoint would.

    For trying an API from the console; the audience must be one the application may
    request (the server's default or an audience of its APIs that trust the server).
    """
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
    else:
        outside = [name for name in scopes if not _allowed_scope(application, name)]
        if outside:
            errors["scope"] = [
                f"{application} may not be granted {' '.join(outside)} (its allowed scopes)."
            ]
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
    changes.record(
        actor, "issue-test-token", application, after={"server": server.pk, "scope": scope}
    )
    return token
