"""Real-browser harness: Debian's Chromium driven by Playwright, against the real WSGI app."""

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
    """The gateway's WSGI app (proxy + Django) plus static files, as runserver serves them."""

    def __init__(self):
        from gateway_admin.wsgi import application

        self.httpd = ThreadedWSGIServer(("127.0.0.1", 0), QuietWSGIRequestHandler)
        self.httpd.daemon_threads = True
        self.httpd.set_app(StaticFilesHandler(application))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # the sidebar is sticky: keep it at the top
    page.screenshot(path=str(path), full_page=True)
    return path
