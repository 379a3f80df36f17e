"""What of APIs, routes, policies and authorization servers the data plane reads
(proxy/config.py collect_snapshot): a change of anything else, or of an API that is not
served, does not move the config version (core/config_signals.py)."""

from apis.choices import ApiStatus
from apis.models import Api, IdentifyAndAuthorizePolicy, Route
from authservers.models import AuthorizationServer
from core.config_signals import proxy_reads


def _api_served(before: dict | None, after: dict | None) -> bool:
    return any(state and state.get("status") == ApiStatus.ACTIVE for state in (before, after))


def _parent_api_served(before: dict | None, after: dict | None) -> bool:
    """A route or policy is served while its API (before or after a move) is active."""
    ids = {state["api_id"] for state in (before, after) if state and state.get("api_id")}
    return Api.objects.filter(pk__in=ids, status=ApiStatus.ACTIVE).exists()


def _server_trusted(before: dict | None, after: dict | None) -> bool:
    ids = {state["id"] for state in (before, after) if state and state.get("id")}
    return Api.objects.filter(
        status=ApiStatus.ACTIVE, policy__authorization_servers__in=ids
    ).exists()


def register() -> None:
    proxy_reads(
        Api,
        (
            "name",
            "version",
            "base_path",
            "upstream_url",
            "kind",
            "status",
            "connect_timeout",
            "read_timeout",
        ),
        live=_api_served,
    )
    proxy_reads(
        Route,
        ("api_id", "method", "path", "required_scopes", "anonymous"),
        live=_parent_api_served,
    )
    proxy_reads(
        IdentifyAndAuthorizePolicy,
        (
            "api_id",
            "authorization_servers",
            "identity_source",
            "identity_name",
            "audiences",
            "required_scopes",
            "allow_anonymous",
            "forward_claims",
            "forward_authorization",
        ),
        live=_parent_api_served,
    )
    # Besides what the snapshot copies, where the keys come from: a key-source change
    # must reach the workers' key stores too.
    proxy_reads(
        AuthorizationServer,
        (
            "name",
            "kind",
            "issuer",
            "discovery_url",
            "jwks_uri",
            "public_certificate",
            "allowed_algorithms",
            "leeway_seconds",
            "jwks_refresh_seconds",
            "max_stale_seconds",
            "required_typ",
        ),
        live=_server_trusted,
    )
