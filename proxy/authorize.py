"""Steps 4 and 5: which application is calling, and may it call this route."""

from proxy.applications import ApplicationConfig
from proxy.config import ApiConfig, PolicyConfig
from proxy.errors import ApplicationNotAuthorized, InsufficientScope
from proxy.routing import RouteConfig
from proxy.tokens import VerifiedToken


def identify_application(api: ApiConfig, token: VerifiedToken) -> ApplicationConfig:
    application = api.applications.find(token.claims)
    if application is None:
        names = api.applications.claim_names()
        raise ApplicationNotAuthorized(
            "No application associated with this API matches the token's claims.",
            check="application",
            admin_detail="No active application associated with this API has identifying "
            "claims that all match the token's"
            + (f" (applications here are identified by {', '.join(names)})." if names else ".")
            + " Associate the client's application with the API, or fix its claims.",
            expected={"claims": names},
            actual={name: token.claims.get(name) for name in names},
        )
    if not application.active:
        raise ApplicationNotAuthorized(
            "The application identified by this token is suspended.",
            check="application",
            admin_detail=f"The token belongs to {application.name}, which is suspended; "
            "resume it to let its calls through.",
            expected={"status": "active"},
            actual={"application": application.name, "status": "suspended"},
        )
    return application


def check_scopes(route: RouteConfig, policy: PolicyConfig, token: VerifiedToken) -> None:
    required = route.required_scopes | policy.required_scopes
    missing = sorted(required - token.scopes)
    if missing:
        raise InsufficientScope(
            f"The token lacks the scope(s): {' '.join(missing)}.",
            missing,
            admin_detail=f"The route and the policy together require {', '.join(sorted(required))}"
            f"; the token lacks {', '.join(missing)}.",
            **scope_facts(required, token),
        )


def scope_facts(required: frozenset[str], token: VerifiedToken) -> dict:
    """The scopes a call needs versus the token's, for the inspector's trace."""
    return {"expected": {"scope": sorted(required)}, "actual": {"scope": sorted(token.scopes)}}
