"""The observation switches, read from settings once instead of on every call.

    GATEWAY_METRICS, GATEWAY_ANALYTICS          on/off
    GATEWAY_REQUEST_LOG                         off (default), stdout, stderr or a file path
    GATEWAY_REQUEST_LOG_SAMPLE                  the share of calls logged (0-1)
    OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT        span export, off when empty

A Django `settings` lookup costs a few hundred nanoseconds; a call used to make five.
`switches` is rebuilt whenever a test or a management command changes one of them
(Django's `setting_changed` signal), so nothing else needs to know it is cached.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.signals import setting_changed

# GATEWAY_REQUEST_LOG values that mean "no access log": never a file name.
LOG_OFF = frozenset({"", "off", "none", "false", "0", "no"})
_NAMES = frozenset(
    {
        "GATEWAY_METRICS",
        "GATEWAY_ANALYTICS",
        "GATEWAY_REQUEST_LOG",
        "GATEWAY_REQUEST_LOG_SAMPLE",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    }
)


@dataclass(frozen=True, slots=True)
class Switches:
    metrics: bool
    analytics: bool
    log_destination: str | None  # "stdout", "stderr", a file path; None when off
    log_sample: float
    export: bool

    @property
    def counting(self) -> bool:
        """Metrics or analytics: either needs the per-call tally (proxy/metrics.py)."""
        return self.metrics or self.analytics

    @classmethod
    def from_settings(cls) -> "Switches":
        destination = settings.GATEWAY_REQUEST_LOG.strip()
        sample = float(settings.GATEWAY_REQUEST_LOG_SAMPLE)
        if destination.lower() in LOG_OFF or sample <= 0:
            destination = None
        return cls(
            metrics=bool(settings.GATEWAY_METRICS),
            analytics=bool(settings.GATEWAY_ANALYTICS),
            log_destination=destination,
            log_sample=min(sample, 1.0),
            export=bool(
                settings.OTEL_EXPORTER_OTLP_ENDPOINT or settings.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
            ),
        )


switches = Switches.from_settings()


def reload() -> None:
    global switches
    switches = Switches.from_settings()


def _setting_changed(setting: str, **kwargs) -> None:
    if setting in _NAMES:
        reload()


setting_changed.connect(_setting_changed, dispatch_uid="gatekeep-observation-switches")
