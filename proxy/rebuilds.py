"""The one background thread per process that rebuilds the config when versions are
announced (proxy/config.py ConfigHolder).

Announcements only record the newest version asked for and wake the thread; a burst
of changes (an import, a script, several admins) that arrives while a rebuild runs
ends in one more rebuild, to the newest version, instead of one per change. Nobody
waits for it: the data plane's event loop keeps serving the previous config until the
new one swaps in, and the announcement listener is free at once.
"""

import logging
import threading

from core.config_version import version_number

logger = logging.getLogger(__name__)


class BackgroundRebuilds:
    def __init__(self, holder) -> None:
        self._holder = holder
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._target: str | None = None
        self._thread: threading.Thread | None = None

    def request(self, version: str | None) -> None:
        """Rebuild to `version` (None: to whatever the shared version says) soon."""
        with self._lock:
            if version_number(version) > version_number(self._target):
                self._target = version
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="config-rebuild", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                target, self._target = self._target, None
            try:
                self._holder.rebuild_to_latest(target)
            except Exception:
                logger.exception("Config rebuild to %s failed", target)
