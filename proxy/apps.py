from django.apps import AppConfig


class ProxyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "proxy"

    def ready(self) -> None:
        from core import config_bus
        from proxy.config import share_before_announcing

        # The process that commits a change compiles its snapshot once, for every node.
        if share_before_announcing not in config_bus.before_announce:
            config_bus.before_announce.append(share_before_announcing)
