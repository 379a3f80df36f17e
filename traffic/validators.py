"""Bounds of limits and quotas: positive, and small enough to count exactly."""

from django.core.validators import MaxValueValidator, MinValueValidator

from traffic.choices import MAX_BURST, MAX_QUOTA, MAX_RATE

RATE_VALIDATORS = [MinValueValidator(1), MaxValueValidator(MAX_RATE)]
BURST_VALIDATORS = [MinValueValidator(1), MaxValueValidator(MAX_BURST)]
QUOTA_VALIDATORS = [MinValueValidator(1), MaxValueValidator(MAX_QUOTA)]
