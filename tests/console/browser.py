"""Real-browser harness: Debian's Chromium driven by Playwright, against both real planes."""

from pathlib import Path

from django.conf import settings

from tests.servers import GatewayServer

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


class ConsoleServer(GatewayServer):
    """Both planes as in production: the console (admin listener, with static files as
    runserver serves them) at `url`, proxied APIs on the data plane at `public_url`."""

    def __init__(self):
        super().__init__(static_files=True)
        self.public_url = self.data.url
        self.url = self.admin_url


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # the sidebar is sticky: keep it at the top
    page.screenshot(path=str(path), full_page=True)
    return path
