"""Traffic control: how often applications may call an API (rates) and how much (quotas).

An API's `LimitPolicy` holds the default every application gets, the limit for anonymous
calls (per client address) and what happens while Redis is down. An `ApplicationLimit`
overrides the default for one application, on one API or on every API. The data plane
reads neither: the limits travel in the compiled config snapshot (traffic/snapshot.py).
"""

from django.core.exceptions import ValidationError
from django.db import models

from apis.models import Api
from applications.models import Application
from traffic.choices import Period, WhenRedisDown
from traffic.validators import BURST_VALIDATORS, QUOTA_VALIDATORS, RATE_VALIDATORS

RATE_HELP = "Requests per period; empty: no rate limit."
BURST_HELP = (
    "Requests that may arrive at once before the rate applies; empty: the rate itself "
    "(a full period's worth)."
)


def _rate_errors(instance, rate: str, burst: str) -> dict:
    """A burst needs a rate to refill it."""
    if getattr(instance, burst) is not None and getattr(instance, rate) is None:
        return {burst: ["A burst needs a rate: set the rate too, or leave the burst empty."]}
    return {}


class LimitPolicy(models.Model):
    """The traffic limits of one API: the default per application, anonymous calls, and
    whether calls are refused (503) or counted per process while Redis is down."""

    api = models.OneToOneField(Api, on_delete=models.CASCADE, related_name="limit_policy")
    rate = models.PositiveIntegerField(
        null=True, blank=True, validators=RATE_VALIDATORS, help_text=RATE_HELP
    )
    period = models.PositiveIntegerField(choices=Period.choices, default=Period.SECOND)
    burst = models.PositiveIntegerField(
        null=True, blank=True, validators=BURST_VALIDATORS, help_text=BURST_HELP
    )
    quota_per_day = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        validators=QUOTA_VALIDATORS,
        help_text="Calls per application and UTC day; empty: no daily quota.",
    )
    quota_per_month = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        validators=QUOTA_VALIDATORS,
        help_text="Calls per application and UTC calendar month; empty: no monthly quota.",
    )
    anonymous_rate = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=RATE_VALIDATORS,
        help_text="Calls without an application (public routes), per client address; "
        "empty: no limit.",
    )
    anonymous_period = models.PositiveIntegerField(choices=Period.choices, default=Period.SECOND)
    anonymous_burst = models.PositiveIntegerField(
        null=True, blank=True, validators=BURST_VALIDATORS, help_text=BURST_HELP
    )
    when_redis_down = models.CharField(
        max_length=6,
        choices=WhenRedisDown.choices,
        default=WhenRedisDown.OPEN,
        help_text="Fail open: each gateway process counts alone, at the limit divided by the "
        "processes (logged). Fail closed: calls are refused with 503.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "limit policy"
        verbose_name_plural = "limit policies"
        ordering = ["api"]

    def __str__(self) -> str:
        return f"Limits of {self.api}"

    def clean(self) -> None:
        errors = {
            **_rate_errors(self, "rate", "burst"),
            **_rate_errors(self, "anonymous_rate", "anonymous_burst"),
        }
        if errors:
            raise ValidationError(errors)


class ApplicationLimit(models.Model):
    """One application's own limits, on one API or (without an API) on every API with
    limits. A field left empty keeps the API's default."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="limits")
    api = models.ForeignKey(
        Api,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="application_limits",
        help_text="Empty: every API the application calls.",
    )
    rate = models.PositiveIntegerField(
        null=True, blank=True, validators=RATE_VALIDATORS, help_text="Empty: the API's default."
    )
    period = models.PositiveIntegerField(choices=Period.choices, default=Period.SECOND)
    burst = models.PositiveIntegerField(
        null=True, blank=True, validators=BURST_VALIDATORS, help_text=BURST_HELP
    )
    quota_per_day = models.PositiveBigIntegerField(
        null=True, blank=True, validators=QUOTA_VALIDATORS, help_text="Empty: the API's default."
    )
    quota_per_month = models.PositiveBigIntegerField(
        null=True, blank=True, validators=QUOTA_VALIDATORS, help_text="Empty: the API's default."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "application limit"
        ordering = ["application", "api"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "api"], name="application_limit_unique_per_api"
            ),
            # NULLs are distinct in a unique constraint: one "every API" row per application.
            models.UniqueConstraint(
                fields=["application"],
                condition=models.Q(api__isnull=True),
                name="application_limit_unique_for_all_apis",
            ),
        ]

    def __str__(self) -> str:
        return f"Limits of {self.application} on {self.api or 'every API'}"

    def clean(self) -> None:
        errors = _rate_errors(self, "rate", "burst")
        if self.rate is None and self.quota_per_day is None and self.quota_per_month is None:
            errors["__all__"] = ["Set a rate or a quota: an override without one changes nothing."]
        if self.application_id is not None:
            duplicate = ApplicationLimit.objects.filter(
                application_id=self.application_id, api_id=self.api_id
            ).exclude(pk=self.pk)
            if duplicate.exists():
                where = "this API" if self.api_id else "every API"
                errors.setdefault("api", []).append(
                    f"This application already has limits for {where}: change those instead."
                )
            if (
                self.api_id is not None
                and not Application.apis.through.objects.filter(
                    application_id=self.application_id, api_id=self.api_id
                ).exists()
            ):
                errors.setdefault("api", []).append(
                    "The application is not associated with this API: associate it first."
                )
        if errors:
            raise ValidationError(errors)
