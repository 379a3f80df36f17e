"""Start both planes with their production settings and supervise them.

    manage.py serve            # data plane on GATEWAY_PUBLIC_BIND, control plane on
                               # GATEWAY_ADMIN_BIND (+ GATEWAY_INTERNAL_BIND)

Each plane is its own gunicorn master (conf/public.py, conf/admin.py). SIGTERM or
Ctrl-C stops both gracefully; if one plane exits, the other is stopped too and
the command exits non-zero, so a process supervisor restarts the pair.

Both planes share one PROMETHEUS_MULTIPROC_DIR (proxy/metrics.py): the one set in
the environment, emptied at start, or a temporary directory removed at exit.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

ROOT = Path(__file__).resolve().parents[3]
PLANES = {
    "public": ["-c", "conf/public.py", "proxy.asgi:application"],
    "admin": ["-c", "conf/admin.py", "gateway_admin.wsgi:application"],
}


class Command(BaseCommand):
    help = "Run the data plane and the control plane (gunicorn) until stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--plane", choices=["both", *PLANES], default="both", help="run only one plane"
        )

    def handle(self, *args, plane: str, **options) -> None:
        names = list(PLANES) if plane == "both" else [plane]
        if not settings.GATEWAY_HAS_DATABASE and names != ["public"]:
            raise CommandError(
                "DATABASE_URL=none runs a data-plane-only node: use `serve --plane public`; "
                "the control plane needs the database."
            )
        metrics_dir, made = metrics_directory()
        env = {
            **os.environ,
            "GATEWAY_PUBLIC_BIND": settings.GATEWAY_PUBLIC_BIND,
            "GATEWAY_ADMIN_BIND": settings.GATEWAY_ADMIN_BIND,
            "GATEWAY_INTERNAL_BIND": settings.GATEWAY_INTERNAL_BIND,
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        }
        processes = {
            name: subprocess.Popen(  # noqa: S603 - fixed gunicorn command
                [sys.executable, "-m", "gunicorn", *PLANES[name]], cwd=ROOT, env=env
            )
            for name in names
        }
        self.stdout.write(
            f"Public (proxied APIs, OAuth2): http://{settings.GATEWAY_PUBLIC_BIND}\n"
            f"Admin (console, REST API):     http://{settings.GATEWAY_ADMIN_BIND}/console/"
        )
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        exited = None
        while not stopping and exited is None:
            time.sleep(0.2)
            exited = next((n for n, p in processes.items() if p.poll() is not None), None)
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=settings_grace())
            except subprocess.TimeoutExpired:
                process.kill()
        if made:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        if exited is not None and not stopping:
            self.stderr.write(f"The {exited} plane exited ({processes[exited].returncode}).")
            sys.exit(1)


def settings_grace() -> float:
    return float(os.environ.get("GATEWAY_GRACEFUL_TIMEOUT", 30)) + 5


def metrics_directory() -> tuple[str, bool]:
    """(the directory, whether it was made here). Values of a previous run are wiped:
    multiprocess mode would add them to this run's (a restart must start from zero)."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not configured:
        return tempfile.mkdtemp(prefix="gatekeep-metrics-"), True
    path = Path(configured)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink(missing_ok=True)
    return str(path), False
