"""Which writes move the config version.

A write that bypasses the services (shell, data migration) still moves the config version:
each domain app lists its config models here too (`track_config_changes`), so a raw ORM
write cannot leave workers on stale config. bump_config_version() publishes once per
transaction, so the two never double up.

A write through the services (core/changes.py) is judged more finely: every change of
the version makes each data-plane worker reload the configuration, so only a change
the data plane can see moves it. Each app declares, next to its models, the fields
proxy/config.py collect_snapshot() reads (`proxy_reads`) and when a row is served at all
(an inactive API's routes are not): a description edit, or any edit of an inactive API,
is audited but does not move the version. While core/changes.py decides, the signals
above stay quiet (`services_deciding`).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db.models.signals import m2m_changed, post_delete, post_save

from core.config_version import bump_config_version

_deciding: ContextVar[bool] = ContextVar("config_services_deciding", default=False)


def _config_changed(sender, **kwargs) -> None:
    if not _deciding.get():
        bump_config_version()


def track_config_changes(*models, through=()) -> None:
    """Bump the config version on every save or delete of `models` and M2M change of `through`."""
    for model in models:
        uid = f"{model._meta.label}"
        post_save.connect(_config_changed, sender=model, dispatch_uid=f"cfg-save-{uid}")
        post_delete.connect(_config_changed, sender=model, dispatch_uid=f"cfg-del-{uid}")
    for table in through:
        uid = f"{table._meta.label}"
        m2m_changed.connect(_config_changed, sender=table, dispatch_uid=f"cfg-m2m-{uid}")


@contextmanager
def services_deciding() -> Iterator[None]:
    """core/changes.py decides whether this write moves the version: signals stay quiet."""
    token = _deciding.set(True)
    try:
        yield
    finally:
        _deciding.reset(token)


# live(before, after) -> bool: whether the row, in either state (audit snapshots, None
# when it does not exist), is part of what the data plane serves.
Live = Callable[[dict | None, dict | None], bool]


@dataclass(frozen=True)
class ProxyReads:
    fields: frozenset[str]
    live: Live


_registry: dict[type, ProxyReads] = {}


def proxy_reads(model: type, fields, live: Live | None = None) -> None:
    """Declare the fields of `model` the data plane reads (snapshot names: attnames, and
    many-to-many field names), and when a row is served at all."""
    _registry[model] = ProxyReads(frozenset(fields), live or (lambda before, after: True))


def is_proxy_change(instance, before: dict | None, after: dict | None) -> bool:
    """Whether a change of `instance` from `before` to `after` (audit snapshots) can change
    what the data plane serves. Models nobody declared: always."""
    reads = _registry.get(type(instance))
    if reads is None:
        return True
    if not reads.live(before, after):
        return False
    if before is None or after is None:
        return True
    return any(before.get(name) != after.get(name) for name in reads.fields)
