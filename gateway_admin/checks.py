"""System checks guarding settings that are easy to get wrong in production."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register("gatekeep", deploy=True)
def secret_key_check(app_configs, **kwargs) -> list:
    if settings.SECRET_KEY == settings.INSECURE_DEV_SECRET_KEY and not settings.DEBUG:
        return [
            Error(
                "SECRET_KEY is the development default.",
                hint="Set SECRET_KEY (or SECRET_KEY_FILE) to a long random value.",
                id="gateway_admin.E001",
            )
        ]
    return []


@register("gatekeep")
def eager_celery_check(app_configs, **kwargs) -> list:
    if settings.REDIS_URL and settings.CELERY_TASK_ALWAYS_EAGER:
        return [
            Warning(
                "Celery tasks run eagerly although a broker is configured.",
                hint="Unset CELERY_TASK_ALWAYS_EAGER so a worker runs the tasks.",
                id="gateway_admin.W002",
            )
        ]
    return []


@register("gatekeep", deploy=True)
def outbound_loopback_check(app_configs, **kwargs) -> list:
    if settings.GATEWAY_OUTBOUND_ALLOW_LOOPBACK and not settings.DEBUG:
        return [
            Warning(
                "Upstreams and authorization servers may point at loopback addresses "
                "(127.0.0.0/8, ::1, localhost): an admin can reach services bound to this host.",
                hint="Set GATEWAY_OUTBOUND_ALLOW_LOOPBACK=false in production.",
                id="gateway_admin.W012",
            )
        ]
    return []


@register("gatekeep")
def database_less_node_check(app_configs, **kwargs) -> list:
    """DATABASE_URL=none: the node serves snapshots from Redis, so it needs Redis."""
    if settings.GATEWAY_HAS_DATABASE or settings.REDIS_URL:
        return []
    return [
        Error(
            "DATABASE_URL=none needs REDIS_URL: a node without a database loads its "
            "config snapshots and key sets from Redis.",
            id="gateway_admin.E003",
        )
    ]
