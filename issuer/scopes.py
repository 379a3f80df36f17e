"""Scopes are what the APIs declare: an application may ask for those of its own APIs."""

from itertools import chain

from oauth2_provider.scopes import BaseScopes

from apis.models import IdentifyAndAuthorizePolicy, Route
from issuer.validators import gateway_application


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


class ApiScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        scopes = _declared_scopes(Route.objects.all(), IdentifyAndAuthorizePolicy.objects.all())
        return _Descriptions({scope: scope for scope in sorted(scopes)})

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        gateway_app = gateway_application(application)
        if gateway_app is None:
            return []
        return sorted(
            _declared_scopes(
                Route.objects.filter(api__applications=gateway_app),
                IdentifyAndAuthorizePolicy.objects.filter(api__applications=gateway_app),
            )
        )

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        # No scope requested: the token carries every scope the application may have.
        return self.get_available_scopes(application, request)
