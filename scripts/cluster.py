"""A Gatekeep cluster on one machine: N nodes behind nginx, a Celery worker and beat.

    scripts/cluster [--nodes 3] [--base-port 9000] [--state-dir .cluster]   # start, Ctrl-C stops
    scripts/cluster stop [--state-dir .cluster]                             # stop from elsewhere

Every node is `manage.py serve` (both planes) with its own ports: node i (0-based) listens
publicly on base+10+10*i, admin on +1, internal on +2. nginx balances the public listeners
on base-port and the admin listeners on base-port+1 (the same template as docs/operations.md,
"Several nodes"). All of them share PostgreSQL (DATABASE_URL, default the local `gatekeep_cluster`
database, created if missing) and Redis (REDIS_URL, default db 13 of the local server).
The state dir holds nginx.conf, cluster.json (ports and pids), the logs and the shared
SECRET_KEY. nginx logs every call with the node that served it ($upstream_addr) in
nginx-access.log.
"""

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/gatekeep_cluster"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"

NGINX_TEMPLATE = """\
# Written by scripts/cluster; docs/operations.md ("Several nodes") explains each line.
worker_processes 1;
pid {state}/nginx.pid;
error_log {state}/nginx-error.log warn;
daemon on;
events {{ worker_connections 4096; }}
http {{
    log_format upstreams '$remote_addr [$time_iso8601] "$request" $status '
                         'upstream=$upstream_addr upstream_status=$upstream_status '
                         'time=$request_time';
    access_log {state}/nginx-access.log upstreams;
    client_body_temp_path {state}/nginx-tmp;
    proxy_temp_path {state}/nginx-tmp;
    fastcgi_temp_path {state}/nginx-tmp;
    uwsgi_temp_path {state}/nginx-tmp;
    scgi_temp_path {state}/nginx-tmp;

    # Passive health: after max_fails failed attempts within fail_timeout a node is left
    # out for fail_timeout, then tried again.
    upstream gatekeep_public {{
{public_servers}
        keepalive 64;
    }}
    upstream gatekeep_admin {{
{admin_servers}
        keepalive 16;
    }}

    server {{
        listen {listen_public};
        location / {{
            proxy_pass http://gatekeep_public;
            proxy_http_version 1.1;
            proxy_set_header Connection "";            # keep-alive to the nodes
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            # Retry on the next node only when the node failed before answering; nginx never
            # retries POST, LOCK, PATCH (non-idempotent) unless told to.
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
            proxy_read_timeout 65s;
            proxy_buffering off;
        }}
    }}
    server {{
        listen {listen_admin};
        client_max_body_size 2m;                       # GATEWAY_OPENAPI_MAX_BYTES + headroom
        location / {{
            proxy_pass http://gatekeep_admin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 2;
            proxy_connect_timeout 2s;
        }}
    }}
}}
"""


def nginx_conf(state: Path, lb_host: str, lb_port: int, nodes: list[dict]) -> str:
    def servers(key: str) -> str:
        return "\n".join(
            f"        server {node[key]} max_fails=2 fail_timeout=5s;" for node in nodes
        )

    return NGINX_TEMPLATE.format(
        state=state,
        public_servers=servers("public"),
        admin_servers=servers("admin"),
        listen_public=f"{lb_host}:{lb_port}",
        listen_admin=f"{lb_host}:{lb_port + 1}",
    )


def log(message: str) -> None:
    print(f"[cluster] {message}", flush=True)


def ensure_database(url: str) -> None:
    """CREATE DATABASE when a PostgreSQL DATABASE_URL names one that does not exist."""
    parsed = urllib.parse.urlparse(url)
    if not parsed.scheme.startswith("postgres"):
        return
    import psycopg
    from psycopg import sql

    name = parsed.path.lstrip("/")
    maintenance = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if found.fetchone() is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log(f"created database {name}")


def shared_secret(state: Path) -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = state / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def wait_ready(urls: list[str], processes: list[subprocess.Popen], timeout: float) -> None:
    pending = list(urls)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"process {process.args} exited ({process.returncode})")
        for url in list(pending):
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http only
                    if response.status == 200:
                        pending.remove(url)
            except (OSError, urllib.error.URLError):
                pass
        time.sleep(0.2)
    if pending:
        raise RuntimeError(f"never ready: {', '.join(pending)}")


def start(args: argparse.Namespace) -> int:
    state = Path(args.state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    (state / "nginx-tmp").mkdir(exist_ok=True)
    info_path = state / "cluster.json"
    if info_path.exists():
        old = json.loads(info_path.read_text())
        if _alive(old.get("supervisor", 0)):
            log(f"a cluster already runs from {state} (pid {old['supervisor']})")
            return 1
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        log("nginx is missing: apt-get install -y nginx-light")
        return 1
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    ensure_database(database_url)
    host = args.host
    nodes = []
    for i in range(args.nodes):
        port = args.base_port + 10 + 10 * i
        nodes.append(
            {
                "name": f"node{i + 1}",
                "public": f"{host}:{port}",
                "admin": f"{host}:{port + 1}",
                "internal": f"127.0.0.1:{port + 2}",
            }
        )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": shared_secret(state),
        "DEBUG": os.environ.get("DEBUG", "false"),
        "GATEWAY_TRUSTED_PROXIES": os.environ.get("GATEWAY_TRUSTED_PROXIES", "127.0.0.1"),
        "GATEWAY_STATE_DIR": str(state),
        "GATEWAY_PUBLIC_URL": f"http://{host}:{args.base_port}",
        "GATEWAY_PUBLIC_WORKERS": str(args.workers),
        "GATEWAY_ADMIN_WORKERS": str(args.admin_workers),
        "GATEWAY_GRACEFUL_TIMEOUT": os.environ.get("GATEWAY_GRACEFUL_TIMEOUT", "5"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("GATEWAY_PUBLIC_HOSTS", None)
    log(f"migrate ({_redacted(database_url)})")
    subprocess.run(  # noqa: S603 - fixed command
        [PYTHON, "manage.py", "migrate", "--no-input"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    children: dict[str, subprocess.Popen] = {}

    def spawn(name: str, command: list[str], extra: dict | None = None) -> subprocess.Popen:
        out = (state / f"{name}.log").open("ab")
        process = subprocess.Popen(  # noqa: S603 - fixed commands
            command,
            cwd=ROOT,
            env={**env, **(extra or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped (or killed) as a whole
        )
        children[name] = process
        return process

    stopping = False

    def request_stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    info: dict = {
        "supervisor": os.getpid(),
        "state_dir": str(state),
        "nodes": nodes,
        "workers": args.workers,
        "database_url": database_url,
        "redis_url": redis_url,
    }

    def start_node(node: dict) -> None:
        listeners = {
            "GATEWAY_PUBLIC_BIND": node["public"],
            "GATEWAY_ADMIN_BIND": node["admin"],
            "GATEWAY_INTERNAL_BIND": node["internal"],
        }
        node["pid"] = spawn(node["name"], [PYTHON, "manage.py", "serve"], listeners).pid

    try:
        for node in nodes:
            start_node(node)
        celery = [PYTHON, "-m", "celery", "-A", "gateway_admin"]
        spawn("celery-worker", [*celery, "worker", "--loglevel=INFO", "--concurrency=1"])
        spawn(
            "celery-beat",
            [*celery, "beat", "--loglevel=INFO", f"--schedule={state / 'celerybeat-schedule'}"],
        )
        (state / "nginx.conf").write_text(nginx_conf(state, host, args.base_port, nodes))
        subprocess.run(  # noqa: S603 - fixed command
            [nginx, "-c", str(state / "nginx.conf"), "-p", str(state), "-e", "stderr"],
            check=True,
        )
        info["nginx_pid"] = int((state / "nginx.pid").read_text())
        info["lb_public"] = f"http://{host}:{args.base_port}"
        info["lb_admin"] = f"http://{host}:{args.base_port + 1}"
        info["celery"] = {n: children[n].pid for n in ("celery-worker", "celery-beat")}
        info_path.touch(mode=0o600)  # the service URLs may carry passwords
        info_path.write_text(json.dumps(info, indent=2))
        probes = [f"http://{n[k]}/readyz" for n in nodes for k in ("public", "admin")]
        probes += [f"{info['lb_public']}/readyz", f"{info['lb_admin']}/readyz"]
        wait_ready(probes, list(children.values()), args.timeout)
        (state / "ready").write_text(str(time.time()))
        lines = [f"Load balancer, public: {info['lb_public']}   admin: {info['lb_admin']}/console/"]
        lines += [
            f"{n['name']}: public http://{n['public']}  admin http://{n['admin']}" for n in nodes
        ]
        lines.append(f"Logs and pids: {state}   Stop: Ctrl-C or scripts/cluster stop")
        print("\n".join(lines), flush=True)
        reported: set[str] = set()
        while not stopping:
            time.sleep(0.3)
            for name, process in list(children.items()):
                if process.poll() is None or name in reported:
                    continue
                node = next((n for n in nodes if n["name"] == name), None)
                if args.restart and node is not None:
                    # As systemd's Restart=always would: the node comes back on its ports.
                    log(f"{name} exited ({process.returncode}); restarting it")
                    _signal_group(process.pid, signal.SIGKILL)  # leftovers of its group
                    start_node(node)
                    info_path.write_text(json.dumps(info, indent=2))
                    continue
                reported.add(name)
                log(f"{name} exited ({process.returncode}); see {state / name}.log")
    except (RuntimeError, subprocess.CalledProcessError) as error:
        log(f"start failed: {error}")
        stopping = False
        return_code = 1
    else:
        return_code = 0
    finally:
        log("stopping")
        _stop_nginx(state)
        for process in children.values():
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + float(env["GATEWAY_GRACEFUL_TIMEOUT"]) + 10
        for process in children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in children.values():
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        for name in ("ready", "cluster.json"):
            (state / name).unlink(missing_ok=True)
        log("stopped")
    return return_code


def stop(args: argparse.Namespace) -> int:
    state = Path(args.state_dir).resolve()
    info_path = state / "cluster.json"
    if not info_path.exists():
        log(f"no cluster runs from {state}")
        return 0
    info = json.loads(info_path.read_text())
    supervisor = info["supervisor"]
    if _alive(supervisor):
        os.kill(supervisor, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _alive(supervisor) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not _alive(supervisor):
            return 0
    # The supervisor is gone (killed): stop what it left behind.
    _stop_nginx(state)
    pids = [node["pid"] for node in info["nodes"]] + list(info.get("celery", {}).values())
    for pid in pids:
        _signal_group(pid, signal.SIGKILL)
    info_path.unlink(missing_ok=True)
    return 0


def _stop_nginx(state: Path, timeout: float = 10) -> None:
    """Graceful stop (SIGQUIT: finish requests in flight), then SIGTERM after `timeout`."""
    pid_file = state / "nginx.pid"
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGQUIT)
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _alive(pid: int) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


def _redacted(url: str) -> str:
    parsed = urllib.parse.urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", choices=["start", "stop"], default="start")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="data-plane workers per node")
    parser.add_argument("--admin-workers", type=int, default=1, help="control-plane workers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--base-port", type=int, default=9000)
    parser.add_argument("--state-dir", default=str(ROOT / ".cluster"))
    parser.add_argument("--timeout", type=float, default=60, help="seconds to become ready")
    parser.add_argument(
        "--restart", action="store_true", help="restart a node that exits (like Restart=always)"
    )
    args = parser.parse_args()
    return stop(args) if args.action == "stop" else start(args)


if __name__ == "__main__":
    sys.exit(main())
