"""Gatekeep benchmark: the upstream, nginx and the gateway side by side, in one run.

    bench/run [--duration 10] [--connections 32] [--server uvicorn|granian] [--quick]
    bench/run --observe-rounds 3 [--observe-only]   # (c) with observability off and on

See bench/README.md for how to read the output.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PYTHON = ROOT / ".venv" / "bin" / "python"
# BENCH_PORT_BASE moves all three (another run, or anything else, may hold 18080-18082).
_BASE = int(os.environ.get("BENCH_PORT_BASE", "18080"))
UPSTREAM_PORT, PROXY_PORT, GATEWAY_PORT = _BASE, _BASE + 1, _BASE + 2


def sh(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs)


def ensure_tools() -> None:
    missing = [
        tool
        for tool in ("wrk", "nginx")
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists()
    ]
    if missing:
        print(f"Installing {' '.join(missing)} from Debian packages…")
        packages = ["wrk" if tool == "wrk" else "nginx-light" for tool in missing]
        subprocess.run(["apt-get", "install", "-y", *packages], check=True, capture_output=True)


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def start_nginx(workdir: Path) -> None:
    (workdir / "nginx-tmp").mkdir(exist_ok=True)
    conf = (BENCH / "nginx.conf.template").read_text()
    for name, value in (
        ("WORKDIR", str(workdir)),
        ("UPSTREAM_PORT", str(UPSTREAM_PORT)),
        ("PROXY_PORT", str(PROXY_PORT)),
    ):
        conf = conf.replace(name, value)
    (workdir / "nginx.conf").write_text(conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    sh(nginx, "-c", str(workdir / "nginx.conf"), "-p", str(workdir))
    wait_for_port(UPSTREAM_PORT)
    wait_for_port(PROXY_PORT)


def pin_nginx(workdir: Path) -> None:
    """nginx (master and workers) on CPU 0, beside wrk (--pin)."""
    master = (workdir / "nginx.pid").read_text().strip()
    for pid in [master, *sh("pgrep", "-P", master).stdout.split()]:
        sh("taskset", "-a", "-p", "-c", "0", pid)


def stop_nginx(workdir: Path) -> None:
    pid_file = workdir / "nginx.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text()), signal.SIGQUIT)


def seed(workdir: Path, name: str, extra: list[str]) -> dict:
    data = workdir / name
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{data}/db.sqlite3",
        "GATEWAY_STATE_DIR": str(data / "state"),  # as start_gateway() gives its gateways
    }
    env.pop("REDIS_URL", None)
    data.mkdir(exist_ok=True)
    sh(
        str(PYTHON),
        str(BENCH / "seed.py"),
        str(data),
        "--upstream",
        f"http://127.0.0.1:{UPSTREAM_PORT}",
        *extra,
        env=env,
        cwd=ROOT,
    )
    return {"DATABASE_URL": env["DATABASE_URL"], "dir": data}


def server_command(server: str, workers: int, threads: int) -> tuple[list[str], dict]:
    """The data plane's command line and environment (conf/public.py: uvicorn workers)."""
    if server == "granian":  # compared, not the production server: see bench/README.md
        return [
            str(ROOT / ".venv/bin/granian"),
            "--interface=asgi",
            "--http=1",
            "--no-ws",
            f"--port={GATEWAY_PORT}",
            f"--workers={workers}",
            "--log-level=warning",
            "proxy.asgi:application",
        ], {}
    env = {
        "GATEWAY_PUBLIC_BIND": f"127.0.0.1:{GATEWAY_PORT}",
        "GATEWAY_PUBLIC_WORKERS": str(workers),
        "GATEWAY_LOG_LEVEL": "warning",
    }
    command = [str(ROOT / ".venv/bin/gunicorn"), "-c", "conf/public.py", "proxy.asgi:application"]
    return command, env


def start_gateway(
    args,
    db: dict,
    token_cache: int | None = None,
    extra_env: dict | None = None,
    pin: bool = False,
) -> subprocess.Popen:
    """`pin`: one worker, alone on CPU 1 (--pin), so its calls per second follow its own CPU
    time per call and not the scheduling of wrk and nginx beside it."""
    env = {
        **os.environ,
        "DATABASE_URL": db["DATABASE_URL"],
        "DEBUG": "false",
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "*",
        "LOG_LEVEL": "WARNING",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
    }
    env.pop("REDIS_URL", None)
    # Key and config snapshots of this data set only: the default directory is shared by
    # every gateway on the machine, and a benchmark must not load another one's snapshot.
    env["GATEWAY_STATE_DIR"] = str(db["dir"] / "state")
    if token_cache is not None:
        env["GATEWAY_VERIFIED_TOKEN_CACHE_SIZE"] = str(token_cache)
    command, server_env = server_command(args.server, 1 if pin else args.workers, args.threads)
    if pin:
        command = ["taskset", "-c", "1", *command]
    env.update(server_env)
    env.update(extra_env or {})
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    wait_for_port(GATEWAY_PORT)
    return process


def stop_gateway(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    time.sleep(0.5)


def worker_rss_mb(process: subprocess.Popen) -> float:
    """Resident memory of the server's worker processes (largest one), in MB."""
    pids = sh("pgrep", "-s", str(process.pid)).stdout.split()
    sizes = []
    for pid in pids:
        if int(pid) == process.pid and len(pids) > 1:
            continue  # the master holds no request state
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            sizes.append(int(match.group(1)) / 1024)
    return round(max(sizes, default=0.0), 1)


def session_cpu_seconds(process: subprocess.Popen) -> float:
    """CPU time (user + system) used so far by the server's processes (master and workers),
    from /proc: the housekeeping threads' work is in it too."""
    total = 0
    for pid in sh("pgrep", "-s", str(process.pid)).stdout.split():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # the name may hold spaces; fields 3.. follow
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str,
    duration: int,
    connections: int,
    script: str | None = None,
    env: dict | None = None,
    threads: int = 2,
    pin: bool = False,
) -> dict:
    command = [
        *(["taskset", "-c", "0"] if pin else []),
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        url,
    ]
    if script:
        at = command.index("wrk") + 1
        command[at:at] = ["-s", str(BENCH / script)]
    output = sh(*command, env={**os.environ, **(env or {})}).stdout
    return parse_wrk(output)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return round(float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit], 3)


def parse_wrk(output: str) -> dict:
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}
    for percentile in ("50", "99"):
        match = re.search(rf"^\s+{percentile}%\s+(\S+)", output, re.M)
        result[f"p{percentile}_ms"] = _ms(match.group(1)) if match else None
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx"] = int(errors.group(1)) if errors else 0
    socket_errors = re.search(r"Socket errors: (.*)", output)
    result["socket_errors"] = socket_errors.group(1) if socket_errors else ""
    result["requests"] = int(re.search(r"(\d+) requests in", output).group(1))
    return result


def chain_cost(duration: int, connections: int, env: dict) -> dict:
    """(f) /chain/v1, every policy of the chain on, against (c) identification only, in the
    same gateway process, alternating three times each so a noisy neighbour hits both."""
    base = f"http://127.0.0.1:{GATEWAY_PORT}"
    wrk(f"{base}/gateway/chain/v1/items", 2, connections, "chain_token.lua", env)  # warm-up
    runs: dict[str, list] = {"c": [], "f": []}
    for _ in range(3):
        runs["c"].append(
            wrk(f"{base}/gateway/bench/v1/items", duration, connections, "hot_token.lua", env)
        )
        runs["f"].append(
            wrk(f"{base}/gateway/chain/v1/items", duration, connections, "chain_token.lua", env)
        )
    best = {name: max(results, key=lambda r: r["rps"]) for name, results in runs.items()}
    rps = {name: [r["rps"] for r in results] for name, results in runs.items()}
    best["f"]["identification_only_rps"] = rps["c"]
    best["f"]["full_chain_rps"] = rps["f"]
    best["f"]["cost_percent"] = round(100 * (1 - best["f"]["rps"] / best["c"]["rps"]), 1)
    best["f"]["non_2xx"] = sum(r["non_2xx"] for r in runs["f"])
    return {"f_gateway_full_chain": best["f"]}


def check_gateway(token_file: Path) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{GATEWAY_PORT}/gateway/bench/v1/items",
        headers={"Authorization": "Bearer " + token_file.read_text().strip()},
    )
    # Workers still loading their config on a busy machine: give them a while.
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200, response.status
                return
        except (TimeoutError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="unused (event loops)")
    parser.add_argument("--quick", action="store_true", help="3 s runs, small data set (e)")
    parser.add_argument("--skip-large", action="store_true", help="skip scenario (e)")
    parser.add_argument(
        "--observe-rounds",
        type=int,
        default=0,
        help="also run (c) this many times each with metrics, access log and analytics off/on",
    )
    parser.add_argument(
        "--observe-only", action="store_true", help="only the observability comparison"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the comparison runs one gateway worker alone on CPU 1, wrk and nginx on CPU 0",
    )
    parser.add_argument(
        "--observe-without-log",
        action="store_true",
        help="the comparison's 'on' keeps the access log off (its default)",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration = 3
    ensure_tools()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir = BENCH / "results" / stamp
    workdir.mkdir(parents=True)
    results: dict = {
        "started": stamp,
        "server": args.server,
        "workers": args.workers,
        "threads": args.threads,
        "connections": args.connections,
        "duration_s": args.duration,
        "pinned": args.pin,
        "cpus": os.cpu_count(),
        "scenarios": {},
    }
    scenarios = results["scenarios"]
    d, c = args.duration, args.connections
    start_nginx(workdir)
    try:
        print("Seeding data…", flush=True)
        small = seed(workdir, "small", ["--tokens", "10000"])
        env = {
            "BENCH_TOKEN_FILE": str(small["dir"] / "token.txt"),
            "BENCH_TOKENS_FILE": str(small["dir"] / "tokens.txt"),
        }
        path = "/gateway/bench/v1/items"
        scenarios["a_upstream"] = wrk(f"http://127.0.0.1:{UPSTREAM_PORT}/items", d, c)
        scenarios["b_nginx_proxy"] = wrk(f"http://127.0.0.1:{PROXY_PORT}/items", d, c)
        if args.observe_rounds:
            if args.pin:
                pin_nginx(workdir)
            observability_comparison(args, small, env, workdir, scenarios)
        if args.observe_only:
            args.skip_large = True
            raise _Done

        gateway = start_gateway(args, small)
        try:
            check_gateway(small["dir"] / "token.txt")
            wrk(f"http://127.0.0.1:{GATEWAY_PORT}{path}", 2, c, "hot_token.lua", env)  # warm-up
            scenarios["c_gateway_hot_token"] = wrk(
                f"http://127.0.0.1:{GATEWAY_PORT}{path}", d, c, "hot_token.lua", env
            )
            scenarios["c_gateway_hot_token"]["worker_rss_mb"] = worker_rss_mb(gateway)
            scenarios.update(chain_cost(d, c, env))
            one_up = wrk(f"http://127.0.0.1:{UPSTREAM_PORT}/items", d, 1, threads=1)
            one_gw = wrk(f"http://127.0.0.1:{GATEWAY_PORT}{path}", d, 1, "hot_token.lua", env, 1)
            scenarios["latency_1_connection"] = {
                "upstream_p50_ms": one_up["p50_ms"],
                "gateway_p50_ms": one_gw["p50_ms"],
                "gateway_added_p50_ms": round(one_gw["p50_ms"] - one_up["p50_ms"], 3),
            }
        finally:
            stop_gateway(gateway)

        # Traffic limits (issue 16): with Redis, without then with a limit, same run.
        from ratelimit import cost as rate_limit_cost

        scenarios["rate_limit_cost"] = rate_limit_cost(args, workdir)

        # (d): a token cache far smaller than the token set, so every call verifies a signature.
        gateway = start_gateway(args, small, token_cache=100)
        try:
            wrk(f"http://127.0.0.1:{GATEWAY_PORT}{path}", 2, c, "many_tokens.lua", env)
            scenarios["d_gateway_10k_tokens"] = wrk(
                f"http://127.0.0.1:{GATEWAY_PORT}{path}", d, c, "many_tokens.lua", env
            )
            scenarios["d_gateway_10k_tokens"]["worker_rss_mb"] = worker_rss_mb(gateway)
        finally:
            stop_gateway(gateway)

        if not args.skip_large:
            size = (
                ["--apis", "100", "--routes-per-api", "10", "--applications", "10000"]
                if args.quick
                else ["--apis", "1000", "--routes-per-api", "10", "--applications", "100000"]
            )
            print("Seeding the large config…", flush=True)
            large = seed(workdir, "large", [*size, "--tokens", "10"])
            large_env = {"BENCH_TOKEN_FILE": str(large["dir"] / "token.txt")}
            gateway = start_gateway(args, large)
            try:
                check_gateway(large["dir"] / "token.txt")
                wrk(f"http://127.0.0.1:{GATEWAY_PORT}{path}", 2, c, "hot_token.lua", large_env)
                scenarios["e_gateway_large_config"] = wrk(
                    f"http://127.0.0.1:{GATEWAY_PORT}{path}", d, c, "hot_token.lua", large_env
                )
                scenarios["e_gateway_large_config"]["worker_rss_mb"] = worker_rss_mb(gateway)
                scenarios["e_gateway_large_config"]["config"] = " ".join(size)
            finally:
                stop_gateway(gateway)
    except _Done:
        pass
    finally:
        stop_nginx(workdir)

    nginx_rps = scenarios["b_nginx_proxy"]["rps"]
    for result in scenarios.values():
        if "rps" in result:
            result["ratio_to_nginx"] = round(result["rps"] / nginx_rps, 3)
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    report(results, workdir)
    failed = [name for name, r in scenarios.items() if r.get("non_2xx") or r.get("socket_errors")]
    return 1 if failed else 0


class _Done(Exception):
    """--observe-only: the comparison ran, skip the other scenarios."""


OBSERVE_OFF = {
    "GATEWAY_METRICS": "false",
    "GATEWAY_ANALYTICS": "false",
    "GATEWAY_REQUEST_LOG": "off",
}


def observability_comparison(args, db: dict, env: dict, workdir: Path, scenarios: dict) -> None:
    """(c) alternately with metrics, the JSON access log and analytics off and on (issue 15):
    on = prometheus multiprocess files (as `manage.py serve` sets them up), one log line per
    call to a file, per-minute rollups flushed to the database every 10 s.

    Besides req/s, each run reports the gateway's CPU time per call (its processes' CPU
    seconds over the measured run / the calls wrk made): on a machine shared with other
    work, req/s follows the neighbours, CPU per call much less."""
    path = f"http://127.0.0.1:{GATEWAY_PORT}/gateway/bench/v1/items"
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    for round_number in range(args.observe_rounds):
        # off, on / on, off / ...: a load that rises or falls through the run favours neither.
        for mode in ("off", "on") if round_number % 2 == 0 else ("on", "off"):
            extra = dict(OBSERVE_OFF)
            if mode == "on":
                metrics_dir = workdir / f"metrics-{round_number}"
                metrics_dir.mkdir()
                extra = {
                    "GATEWAY_METRICS": "true",
                    "GATEWAY_ANALYTICS": "true",
                    "GATEWAY_REQUEST_LOG": "off"
                    if args.observe_without_log
                    else os.environ.get("BENCH_ACCESS_LOG", str(workdir / "access.log")),
                    "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                }
                for pair in filter(None, os.environ.get("BENCH_ON_OVERRIDES", "").split(",")):
                    name, _, value = pair.partition("=")
                    extra[name] = value
            gateway = start_gateway(args, db, extra_env=extra, pin=args.pin)
            try:
                check_gateway(db["dir"] / "token.txt")
                wrk(path, 2, args.connections, "hot_token.lua", env, pin=args.pin)  # warm-up
                cpu_before = session_cpu_seconds(gateway)
                result = wrk(
                    path, args.duration, args.connections, "hot_token.lua", env, pin=args.pin
                )
                cpu = session_cpu_seconds(gateway) - cpu_before
                result["cpu_us_per_call"] = round(cpu / max(result["requests"], 1) * 1e6, 1)
                runs[mode].append(result)
                print(
                    f"  observability {mode}: {result['rps']:.0f} req/s, "
                    f"{result['cpu_us_per_call']} µs CPU per call, load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            finally:
                stop_gateway(gateway)
    for mode, results in runs.items():
        rps = [r["rps"] for r in results]
        scenarios[f"c_observability_{mode}"] = {
            "rps": round(sum(rps) / len(rps), 1),
            "rps_runs": rps,
            "cpu_us_per_call": round(sum(r["cpu_us_per_call"] for r in results) / len(results), 1),
            "cpu_us_per_call_median": statistics.median(r["cpu_us_per_call"] for r in results),
            "cpu_us_per_call_runs": [r["cpu_us_per_call"] for r in results],
            "p50_ms": round(sum(r["p50_ms"] for r in results) / len(results), 3),
            "p99_ms": round(sum(r["p99_ms"] for r in results) / len(results), 3),
            "non_2xx": sum(r["non_2xx"] for r in results),
            "socket_errors": "".join(r["socket_errors"] for r in results),
        }
    off, on = scenarios["c_observability_off"]["rps"], scenarios["c_observability_on"]["rps"]
    scenarios["c_observability_on"]["loss_percent"] = round(100 * (off - on) / off, 1)
    # Calls per CPU second lost: what req/s loses when the gateway is what limits it.
    cpu_off = scenarios["c_observability_off"]["cpu_us_per_call"]
    cpu_on = scenarios["c_observability_on"]["cpu_us_per_call"]
    scenarios["c_observability_on"]["cpu_loss_percent"] = round(100 * (1 - cpu_off / cpu_on), 1)
    median_off = scenarios["c_observability_off"]["cpu_us_per_call_median"]
    median_on = scenarios["c_observability_on"]["cpu_us_per_call_median"]
    scenarios["c_observability_on"]["cpu_loss_percent_median"] = round(
        100 * (1 - median_off / median_on), 1
    )
    scenarios["c_observability_on"]["load_average"] = round(os.getloadavg()[0], 1)
    log = workdir / "access.log"
    lines = log.read_text().count("\n") if log.exists() else 0
    scenarios["c_observability_on"]["access_log_lines"] = lines


def report(results: dict, workdir: Path) -> None:
    print(
        f"\nGatekeep benchmark — {results['server']} "
        f"{results['workers']}w x {results['threads']}t, {results['connections']} connections, "
        f"{results['duration_s']} s each, {results['cpus']} CPUs"
    )
    print(
        f"{'scenario':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'÷nginx':>7} "
        f"{'RSS MB':>7} {'non-2xx':>8}"
    )
    for name, r in results["scenarios"].items():
        if "rps" not in r:
            continue
        print(
            f"{name:28} {r['rps']:>9.0f} {r['p50_ms']:>8} {r['p99_ms']:>8} "
            f"{r['ratio_to_nginx']:>7} {r.get('worker_rss_mb', ''):>7} {r['non_2xx']:>8}"
        )
    chain = results["scenarios"].get("f_gateway_full_chain")
    if chain:
        print(
            f"\nFull policy chain vs identification only (same process, best of 3 each): "
            f"{chain['cost_percent']} % fewer req/s (c {chain['identification_only_rps']}, "
            f"f {chain['full_chain_rps']})"
        )
    latency = results["scenarios"].get("latency_1_connection")
    if latency:
        print(
            f"\nAt 1 connection: upstream p50 {latency['upstream_p50_ms']} ms, gateway p50 "
            f"{latency['gateway_p50_ms']} ms → gateway adds {latency['gateway_added_p50_ms']} ms"
        )
    limits = results["scenarios"].get("rate_limit_cost")
    if limits:
        print(
            f"With Redis, 1 connection: p50 {limits['no_limit']['p50_ms_1']} ms without a limit, "
            f"{limits['limit']['p50_ms_1']} ms with one → +{limits['added_p50_ms_1']} ms"
        )
    observed = results["scenarios"].get("c_observability_on")
    if observed:
        off = results["scenarios"]["c_observability_off"]
        print(
            f"\nObservability (c): off {off['rps_runs']} req/s, on {observed['rps_runs']} req/s "
            f"→ {observed['loss_percent']} % fewer with metrics, access log and analytics on "
            f"({observed['access_log_lines']} log lines)"
        )
        print(
            f"  CPU per call: off {off['cpu_us_per_call_runs']} µs, "
            f"on {observed['cpu_us_per_call_runs']} µs → {observed['cpu_loss_percent']} % fewer "
            f"calls per CPU second ({observed['cpu_loss_percent_median']} % by the medians; "
            f"load average {observed['load_average']} at the end)"
        )
    print(f"\nResults: {workdir / 'results.json'}")


if __name__ == "__main__":
    sys.exit(main())
