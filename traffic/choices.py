from django.db import models


class Period(models.IntegerChoices):
    """The window of a rate: requests per second, minute or hour."""

    SECOND = 1, "per second"
    MINUTE = 60, "per minute"
    HOUR = 3600, "per hour"


class WhenRedisDown(models.TextChoices):
    """What an API's calls get while the shared counters (Redis) cannot be reached."""

    OPEN = "open", "Fail open: count per process, at the limit divided by the processes"
    CLOSED = "closed", "Fail closed: refuse with 503"


# Upper bounds of what an admin may configure: large enough for any real plan, small enough
# that the counters stay exact integers in Redis's Lua (doubles, exact up to 2**53) and the
# emission interval never rounds to zero microseconds.
MAX_RATE = 1_000_000
MAX_BURST = 1_000_000
MAX_QUOTA = 1_000_000_000_000
