"""The wall clock that token lifetimes, key publication and rate-limit windows are judged by.

Callers look the function up at call time (`clock.time()`, `clock.now()`), so a test can
replace `core.clock.time` with a fixed clock and assert an exact expiry instead of
sleeping past it. Timeouts and intervals measure elapsed time with time.monotonic().
"""

import time as _time
from datetime import UTC, datetime


def time() -> float:
    """Seconds since the epoch, as time.time()."""
    return _time.time()


def now() -> datetime:
    """The same instant as an aware UTC datetime, for database timestamps."""
    return datetime.fromtimestamp(time(), UTC)
