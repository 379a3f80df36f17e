"""The control plane's one background thread that compiles and announces committed
config versions (core/config_bus.py publish), so an admin's request never waits for a
compile (100,000 applications take seconds) and a burst of commits coalesces into one
compile of the newest version.

The thread is started by the control plane's server before it lowers its own CPU
priority (conf/admin.py post_fork): on Linux a nice value belongs to a thread and new
threads inherit their creator's, so request threads yield to the data plane while this
thread, which is what carries a change to every data-plane worker, does not wait behind
the very load it is meant to reconfigure.
"""

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)

IDLE_SECONDS = 30  # the thread's database connection is closed after this long unused


class Publisher:
    def __init__(self, publish_now: Callable[[str, int], None]) -> None:
        self._publish_now = publish_now
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: tuple[str, int] | None = None
        self._busy = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                # A daemon: drain() is how an exiting process finishes what it owes.
                self._thread = threading.Thread(
                    target=self._run, name="config-publisher", daemon=True
                )
                self._thread.start()

    def submit(self, version: str, number: int) -> None:
        with self._lock:
            if self._pending is None or number > self._pending[1]:
                self._pending = (version, number)
            self._wake.notify()
        self.start()

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is pending or being published; False on timeout."""
        with self._lock:
            return self._wake.wait_for(
                lambda: self._pending is None and not self._busy, timeout=timeout
            )

    def _run(self) -> None:
        from django.db import connection

        while True:
            with self._lock:
                if not self._wake.wait_for(lambda: self._pending is not None, IDLE_SECONDS):
                    connection.close()  # none held while idle
                    continue
                item, self._pending = self._pending, None
                self._busy = True
            try:
                self._publish_now(*item)
            except Exception:
                logger.exception("Could not publish config %s", item[0])
            finally:
                # Kept between the publishes of a burst (a new connection costs ~5 ms, a
                # tenth of a change's way to the workers); dropped if it failed.
                if connection.errors_occurred:
                    connection.close()
                with self._lock:
                    self._busy = False
                    self._wake.notify_all()
