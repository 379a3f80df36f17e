"""Steps 4 and 5: which application is calling, and may it call this route."""

from .applications import ApplicationConfig
from .config import ApiConfig, PolicyConfig
from .errors import ApplicationNotAuthorized, InsufficientScope
from .routing import RouteConfig
from .tokens import VerifiedToken


def identify_application(api: ApiConfig, token: VerifiedToken) -> ApplicationConfig:
    application = api.applications.find(token.claims)
    if application is None:
        raise ApplicationNotAuthorized(
            "No application associated with this API matches the token's claims.",
            check="application",
        )
    if not application.active:
        raise ApplicationNotAuthorized(
            "The application identified by this token is suspended.", check="application"
        )
    return application


def check_scopes(route: RouteConfig, policy: PolicyConfig, token: VerifiedToken) -> None:
    required = route.required_scopes | policy.required_scopes
    missing = sorted(required - token.scopes)
    if missing:
        raise InsufficientScope(f"The token lacks the scope(s): {' '.join(missing)}.", missing)
