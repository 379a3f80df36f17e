from django.apps import AppConfig


class ApisConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apis"

    def ready(self) -> None:
        from apis import config_reads
        from apis.models import Api, IdentifyAndAuthorizePolicy, Route
        from core.config_signals import track_config_changes

        track_config_changes(
            Api,
            Route,
            IdentifyAndAuthorizePolicy,
            through=[IdentifyAndAuthorizePolicy.authorization_servers.through],
        )
        config_reads.register()
