"""What of applications the data plane reads (proxy/config.py collect_snapshot): an
application's description or custom claims (the internal issuer's business), or an
application associated with no active API, does not move the config version
(core/config_signals.py)."""

from apis.choices import ApiStatus
from apis.models import Api
from applications.models import Application
from core.config_signals import proxy_reads


def _on_a_served_api(before: dict | None, after: dict | None) -> bool:
    ids = {pk for state in (before, after) if state for pk in state.get("apis", ())}
    return Api.objects.filter(pk__in=ids, status=ApiStatus.ACTIVE).exists()


def register() -> None:
    proxy_reads(
        Application,
        ("name", "status", "identifying_claims", "oauth_client_id", "apis"),
        live=_on_a_served_api,
    )
