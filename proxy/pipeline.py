"""Steps 1-5 of a proxied call as one function, shared by the proxy and the token inspector.

The policy chain's stages (proxy/stages/__init__.py) run around the identification.

`decide()` either returns who may call what, or raises the GatewayError the
client gets. With a `trace` list it also records every check it made, in order.
"""

from dataclasses import dataclass

from apis.paths import split_path
from proxy.applications import ApplicationConfig
from proxy.authorize import check_scopes, identify_application, scope_facts
from proxy.canonical import refuse_ambiguous
from proxy.config import ApiConfig, GatewayConfig
from proxy.errors import ApiNotFound, ApplicationNotAuthorized, GatewayError
from proxy.identify import extract_token, require_token
from proxy.routing import RouteConfig
from proxy.tokens import VerifiedToken, validate_token


@dataclass(frozen=True, slots=True)
class Decision:
    api: ApiConfig
    route: RouteConfig
    segments: list[str]  # the path after the base path
    token: VerifiedToken | None
    application: ApplicationConfig | None


def locate(config: GatewayConfig, path: str) -> tuple[ApiConfig, list[str]]:
    segments = split_path(path)
    refuse_ambiguous(segments)
    found = config.find_api(segments)
    if found is None:
        raise ApiNotFound("No active API is published at this path.", check="route")
    return found


def decide(config: GatewayConfig, environ: dict, path: str, trace: list | None = None) -> Decision:
    api = None
    try:
        api, segments = locate(config, path)
        api.chain.before(environ, trace)  # stage 1 and the API's client addresses (stages/)
        decision = _decide(api, segments, environ, trace)
        api.chain.after(decision, environ, trace)  # the application's client addresses
        return decision
    except GatewayError as error:
        error.soap = api is not None and api.soap  # SOAP APIs answer errors with a fault
        if trace is not None:
            trace.append(
                {
                    "check": error.check or "gateway",
                    "ok": False,
                    "detail": error.detail,
                    # Admin-only facts (the inspector): never part of the client's answer.
                    "admin_detail": error.admin_detail,
                    "expected": error.expected,
                    "actual": error.actual,
                }
            )
        raise


def _decide(api: ApiConfig, segments: list[str], environ: dict, trace: list | None) -> Decision:
    route = api.routes.match(segments, environ["REQUEST_METHOD"])
    _passed(trace, "route", f"{api.name}: {route.method} {route.path}.")
    policy = api.policy
    if policy is None:
        raise ApplicationNotAuthorized(
            "This API has no access policy; calls are refused.", check="policy"
        )
    token_text = extract_token(environ, policy)
    if route.anonymous or policy.allow_anonymous:
        if token_text is None:
            _passed(trace, "identify", "No token; the route is public.")
            return Decision(api, route, segments, None, None)
        # A presented token must still be valid, but a public route needs no application or
        # scope. A suspended application is not named to the upstream.
        token = validate_token(token_text, policy, trace)
        application = api.applications.find(token.claims)
        if application is not None and not application.active:
            application = None
        return Decision(api, route, segments, token, application)
    token = validate_token(require_token(token_text), policy, trace)
    application = identify_application(api, token)
    _passed(trace, "application", f"Application {application.name}.")
    check_scopes(route, policy, token)
    if trace is not None:
        facts = scope_facts(route.required_scopes | policy.required_scopes, token)
        _passed(trace, "scopes", "The token carries every required scope.", **facts)
    return Decision(api, route, segments, token, application)


def _passed(trace: list | None, check: str, detail: str, **facts) -> None:
    if trace is not None:
        trace.append({"check": check, "ok": True, "detail": detail, **facts})
