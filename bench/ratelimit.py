"""Traffic limits under load: accuracy across processes, and the cost of a limit per call.

    bench/ratelimit [--seconds 60] [--offered 1000] [--limit 100] [--burst 10] [--calm 50]
    bench/ratelimit --cost-only [--duration 10]

Accuracy: three gateway processes (three `gunicorn -c conf/public.py` masters, one worker
each, like three nodes) share one redis-server. Application A is limited to --limit calls
per second (burst --burst) and offered --offered calls per second, spread over the three;
application B, with the same limit, calls at --calm per second. Prints A's admitted rate per
10 s window (target: within ±5 % of the limit) and B's answers (target: no 429).

Cost: the p50 at one connection and the throughput at 32 of the data plane with Redis and
no limit, then with a limit it never reaches, in the same run (target: at most +0.3 ms).
`bench/run` runs this part too. See bench/README.md, Traffic limits.
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench

NODE_PORTS = (18090, 18091, 18092)
PATH = "/gateway/bench/v1/items"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bench.wait_for_port(port)
    return process, f"redis://127.0.0.1:{port}/0"


def start_node(db: dict, redis_url: str, port: int, workers: int, processes: int):
    env = {
        **os.environ,
        "DATABASE_URL": db["DATABASE_URL"],
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "DEBUG": "false",
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "LOG_LEVEL": "WARNING",
        "GATEWAY_PUBLIC_BIND": f"127.0.0.1:{port}",
        "GATEWAY_PUBLIC_WORKERS": str(workers),
        "GATEWAY_RATE_LIMIT_PROCESSES": str(processes),
        "GATEWAY_LOG_LEVEL": "warning",
        "GATEWAY_STATE_DIR": str(db["dir"] / f"state-{port}"),
    }
    command = [str(bench.ROOT / ".venv/bin/gunicorn"), "-c", "conf/public.py"]
    process = subprocess.Popen(
        [*command, "proxy.asgi:application"],
        cwd=bench.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    bench.wait_for_port(port)
    return process


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


async def _connection(port: int):
    return await asyncio.open_connection("127.0.0.1", port)


async def _call(streams, request: bytes) -> int:
    reader, writer = streams
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def offer(ports, token: str, rate: float, seconds: float, connections: int, started):
    """Open-loop load: a call is due every 1/rate s, sent on the next idle connection of
    the next node; calls that find no idle connection are counted as `unsent`."""
    request = (
        f"GET {PATH} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    idle: list[list] = [[] for _ in ports]
    for n in range(connections):
        index = n % len(ports)
        idle[index].append(await _connection(ports[index]))
    results: list[tuple[float, int]] = []
    unsent = 0
    errors: Counter = Counter()
    tasks = set()

    async def one(index: int, streams) -> None:
        sent_at = time.monotonic() - started
        try:
            status = await _call(streams, request)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            status = 0
            errors[type(error).__name__] += 1
            streams = await _connection(ports[index])
        results.append((sent_at, status))
        idle[index].append(streams)

    interval = 1 / rate
    due = time.monotonic()
    end = due + seconds
    n = 0
    while due < end:
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        index = n % len(ports)
        n += 1
        if idle[index]:
            task = asyncio.create_task(one(index, idle[index].pop()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        else:
            unsent += 1
        due += interval
    await asyncio.gather(*tasks)
    for pool in idle:
        for _, writer in pool:
            writer.close()
    if errors:
        print(f"connection errors: {dict(errors)}", flush=True)
    return results, unsent


def windows(results, seconds: float, size: int = 10) -> list[dict]:
    rows = []
    for start in range(0, int(seconds), size):
        inside = Counter(s for t, s in results if start <= t < start + size)
        rows.append(
            {
                "window_s": f"{start}-{start + size}",
                "admitted_per_s": round(inside[200] / size, 1),
                "refused_429": inside[429],
                "other": {k: v for k, v in inside.items() if k not in (200, 429)},
            }
        )
    return rows


def accuracy(args, workdir: Path) -> dict:
    print("Seeding…", flush=True)
    db = bench.seed(
        workdir,
        "limited",
        ["--tokens", "1", "--rate-limit", f"{args.limit}:{args.burst}", "--second-application"],
    )
    redis, redis_url = start_redis(workdir)
    nodes = [start_node(db, redis_url, port, 1, len(NODE_PORTS)) for port in NODE_PORTS]
    try:
        token_a = (db["dir"] / "token.txt").read_text().strip()
        token_b = (db["dir"] / "token-b.txt").read_text().strip()
        for port in NODE_PORTS:  # warm: config, keys, token cache, the Redis script
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}{PATH}", headers={"Authorization": f"Bearer {token_b}"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200, response.status
        time.sleep(1)

        async def both():
            started = time.monotonic()
            return await asyncio.gather(
                offer(NODE_PORTS, token_a, args.offered, args.seconds, 90, started),
                offer(NODE_PORTS, token_b, args.calm, args.seconds, 6, started),
            )

        print(f"Offering {args.offered} req/s (A) and {args.calm} req/s (B) for {args.seconds} s…")
        (a_results, a_unsent), (b_results, b_unsent) = asyncio.run(both())
    finally:
        for node in nodes:
            stop(node)
        redis.terminate()
        redis.wait(timeout=10)
    a_windows = windows(a_results, args.seconds)
    limit = args.limit
    return {
        "limit_per_s": limit,
        "burst": args.burst,
        "offered_a_per_s": args.offered,
        "sent_a": len(a_results),
        "unsent_a": a_unsent,
        "a_windows": a_windows,
        "a_worst_deviation_pct": round(
            max(abs(w["admitted_per_s"] - limit) / limit * 100 for w in a_windows), 1
        ),
        "b_statuses": dict(Counter(s for _, s in b_results)),
        "unsent_b": b_unsent,
    }


def cost(args, workdir: Path) -> dict:
    """The data plane with Redis, without then with a limit, at 1 and 32 connections."""
    redis, redis_url = start_redis(workdir)
    result = {}
    try:
        for name, extra in (("no_limit", []), ("limit", ["--rate-limit", "1000000"])):
            db = bench.seed(workdir, f"cost-{name}", ["--tokens", "1", *extra])
            env = {"BENCH_TOKEN_FILE": str(db["dir"] / "token.txt")}
            node = start_node(db, redis_url, bench.GATEWAY_PORT, args.workers, args.workers)
            try:
                url = f"http://127.0.0.1:{bench.GATEWAY_PORT}{PATH}"
                bench.wrk(url, 2, 8, "hot_token.lua", env)  # warm-up
                many = bench.wrk(url, args.duration, 32, "hot_token.lua", env)
                one = bench.wrk(url, args.duration, 1, "hot_token.lua", env, 1)
            finally:
                stop(node)
            result[name] = {
                "rps_32": many["rps"],
                "p50_ms_32": many["p50_ms"],
                "p50_ms_1": one["p50_ms"],
                "non_2xx": many["non_2xx"] + one["non_2xx"],
                "socket_errors": " ".join(
                    filter(None, [many["socket_errors"], one["socket_errors"]])
                ),
            }
    finally:
        redis.terminate()
        redis.wait(timeout=10)
    result["added_p50_ms_1"] = round(
        result["limit"]["p50_ms_1"] - result["no_limit"]["p50_ms_1"], 3
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--offered", type=float, default=1000)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--calm", type=float, default=50)
    parser.add_argument("--duration", type=int, default=10, help="seconds per cost run")
    parser.add_argument("--workers", type=int, default=2, help="data-plane workers (cost)")
    parser.add_argument("--cost-only", action="store_true")
    parser.add_argument("--accuracy-only", action="store_true")
    args = parser.parse_args()
    bench.ensure_tools()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir = bench.BENCH / "results" / f"ratelimit-{stamp}"
    workdir.mkdir(parents=True)
    results: dict = {"started": stamp, "cpus": os.cpu_count()}
    bench.start_nginx(workdir)  # the upstream (18080)
    try:
        if not args.cost_only:
            results["accuracy"] = accuracy(args, workdir)
        if not args.accuracy_only:
            results["cost"] = cost(args, workdir)
    finally:
        bench.stop_nginx(workdir)
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    report(results, workdir)
    found = results.get("accuracy")
    ok = found is None or (
        found["a_worst_deviation_pct"] <= 5 and found["b_statuses"].keys() <= {200}
    )
    return 0 if ok else 1


def report(results: dict, workdir: Path) -> None:
    found = results.get("accuracy")
    if found:
        print(
            f"\nA: limit {found['limit_per_s']}/s (burst {found['burst']}), offered "
            f"{found['offered_a_per_s']}/s, sent {found['sent_a']} (unsent {found['unsent_a']})"
        )
        print(f"{'window':>8} {'admitted/s':>11} {'429':>7}  other")
        for row in found["a_windows"]:
            print(
                f"{row['window_s']:>8} {row['admitted_per_s']:>11} {row['refused_429']:>7}  "
                f"{row['other'] or ''}"
            )
        print(f"worst window: {found['a_worst_deviation_pct']} % off the limit (target ±5 %)")
        print(f"B: {found['b_statuses']} (unsent {found['unsent_b']}; target: no 429)")
    spent = results.get("cost")
    if spent:
        print("\nCost of a limit (data plane with Redis, same run):")
        for name in ("no_limit", "limit"):
            row = spent[name]
            print(
                f"  {name:9} {row['rps_32']:>8.0f} req/s at 32 conn (p50 {row['p50_ms_32']} ms), "
                f"p50 {row['p50_ms_1']} ms at 1 conn, non-2xx {row['non_2xx']}"
            )
        print(f"  added p50 at 1 connection: {spent['added_p50_ms_1']} ms (target ≤ 0.3 ms)")
    print(f"\nResults: {workdir / 'results.json'}")


if __name__ == "__main__":
    sys.exit(main())
