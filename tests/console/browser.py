"""Real-browser harness: Debian's Chromium driven by Playwright, against both real planes."""

import threading
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import QuietWSGIRequestHandler

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "console"


class ConsoleServer:
    """Both planes as in production: the console (admin listener, with static files as
    runserver serves them) at `url`, proxied APIs on the data plane at `public_url`."""

    def __init__(self):
        from gateway_admin.wsgi import admin_application, public_application
        from tests.servers import DataPlaneServer

        self.httpd = ThreadedWSGIServer(("127.0.0.1", 0), QuietWSGIRequestHandler)
        self.httpd.daemon_threads = True
        self.httpd.set_app(StaticFilesHandler(admin_application))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.internal = ThreadedWSGIServer(("127.0.0.1", 0), QuietWSGIRequestHandler)
        self.internal.daemon_threads = True
        self.internal.set_app(public_application)
        threading.Thread(
            target=self.internal.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.data = DataPlaneServer(f"http://127.0.0.1:{self.internal.server_address[1]}")
        self.public_url = self.data.url

    def stop(self) -> None:
        self.data.stop()
        for httpd in (self.httpd, self.internal):
            httpd.shutdown()
            httpd.server_close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # the sidebar is sticky: keep it at the top
    page.screenshot(path=str(path), full_page=True)
    return path
