"""The settings a proxied call reads, as plain attributes.

`settings.X` runs Django's LazyObject.__getattribute__ in Python on every access, about
230 ns; a proxied call read five. `hot.X` is a slot read. The values are copied again
whenever a setting changes (Django's `setting_changed` signal: override_settings and
pytest-django's `settings` fixture send it), so nothing else needs to know they are copies.
"""

from django.conf import settings
from django.core.signals import setting_changed

_NAMES = (
    "GATEWAY_CLIENT_BODY_TIMEOUT",
    "GATEWAY_CLIENT_HEADER_TIMEOUT",
    "GATEWAY_KEYS_POLL_SECONDS",
    "GATEWAY_MAX_TOKEN_BYTES",
)


class HotSettings:
    __slots__ = _NAMES

    def load(self) -> None:
        for name in _NAMES:
            setattr(self, name, getattr(settings, name))


hot = HotSettings()
hot.load()


def _setting_changed(setting: str, **kwargs) -> None:
    if setting in _NAMES:
        hot.load()


setting_changed.connect(_setting_changed, dispatch_uid="gatekeep-hot-settings")
