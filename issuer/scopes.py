"""Scopes are what the APIs declare: an application may ask for those of its own APIs."""

from itertools import chain

from oauth2_provider.scopes import BaseScopes

from apis.models import IdentifyAndAuthorizePolicy, Route
from issuer.validators import OIDC_SCOPES, gateway_application


class _Descriptions(dict):
    """Scope → description; an unknown scope describes itself (the consent page looks them up)."""

    def __missing__(self, scope: str) -> str:
        return scope


def _declared_scopes(routes, policies) -> set[str]:
    scopes: set[str] = set()
    for declared in chain(
        routes.values_list("required_scopes", flat=True),
        policies.values_list("required_scopes", flat=True),
    ):
        scopes.update(declared or [])
    return scopes


OIDC_SCOPE_DESCRIPTIONS = {
    "openid": "Sign you in (your user id)",
    "profile": "Your user name and full name",
    "email": "Your email address",
}


class ApiScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        scopes = _declared_scopes(Route.objects.all(), IdentifyAndAuthorizePolicy.objects.all())
        return _Descriptions({scope: scope for scope in sorted(scopes)} | OIDC_SCOPE_DESCRIPTIONS)

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        # OpenID Connect's scopes are anyone's to ask for; only the authorization-code
        # flow turns `openid` into an ID token.
        return [*OIDC_SCOPES, *self.get_api_scopes(application)]

    def get_api_scopes(self, application=None) -> list[str]:
        gateway_app = gateway_application(application)
        if gateway_app is None:
            return []
        scopes = _declared_scopes(
            Route.objects.filter(api__applications=gateway_app),
            IdentifyAndAuthorizePolicy.objects.filter(api__applications=gateway_app),
        )
        if gateway_app.allowed_scopes:
            # Narrowed by the application's allowed scopes; DOT's validate_scopes then
            # answers invalid_scope for any other, and defaults stay within them.
            scopes &= set(gateway_app.allowed_scopes)
        return sorted(scopes)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        # No scope requested: the token carries every scope the application may have.
        return self.get_api_scopes(application)
