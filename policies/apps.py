from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "policies"

    def ready(self) -> None:
        from apis.services import ACTIVATION_CHECKS, ACTIVATION_PREFETCH
        from core.config_signals import track_config_changes
        from policies.models import (
            ClientAddressPolicy,
            CorsPolicy,
            LoadBalancing,
            RequestLimits,
            Transformation,
            UpstreamTarget,
        )
        from policies.services import CHAIN_RELATIONS, chain_problems

        track_config_changes(
            CorsPolicy,
            ClientAddressPolicy,
            RequestLimits,
            Transformation,
            UpstreamTarget,
            LoadBalancing,
        )
        if chain_problems not in ACTIVATION_CHECKS:
            ACTIVATION_CHECKS.append(chain_problems)
            ACTIVATION_PREFETCH.extend(CHAIN_RELATIONS)
