"""Cost growth: throughput and worker memory as routes, applications and tokens grow.

    bench/growth [--duration 10] [--server uvicorn]

One dimension grows at a time, the others stay at 1: routes of the measured API
(1 → 10,000), applications associated with it (1 → 100,000), and distinct tokens
in rotation (1 → 100,000, with the default verified-token cache of 20,000). Every
point seeds a fresh database, starts the gateway under the production server and
drives it with wrk like bench/run. Prints a Markdown table and writes JSON.
"""

import argparse
import json
import os
from datetime import datetime
from pathlib import Path

import run

ROUTES = (1, 100, 1_000, 10_000)
APPLICATIONS = (1, 1_000, 10_000, 100_000)
TOKENS = (1, 1_000, 10_000, 100_000)
PATH = "/gateway/bench/v1/items"


def measure(args, db: dict, tokens_file: Path) -> dict:
    env = {"BENCH_TOKENS_FILE": str(tokens_file)}
    url = f"http://127.0.0.1:{run.GATEWAY_PORT}{PATH}"
    gateway = run.start_gateway(args, db)
    try:
        run.check_gateway(db["dir"] / "token.txt")
        run.wrk(url, 2, args.connections, "many_tokens.lua", env)  # warm-up
        result = run.wrk(url, args.duration, args.connections, "many_tokens.lua", env)
        result["worker_rss_mb"] = run.worker_rss_mb(gateway)
        return result
    finally:
        run.stop_gateway(gateway)


def first_lines(source: Path, count: int) -> Path:
    target = source.with_name(f"tokens-{count}.txt")
    with source.open() as lines, target.open("w") as out:
        for _, line in zip(range(count), lines, strict=False):
            out.write(line)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    run.ensure_tools()
    workdir = run.BENCH / "results" / ("growth-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    workdir.mkdir(parents=True)
    rows = []
    run.start_nginx(workdir)
    try:
        for routes in ROUTES:
            db = run.seed(
                workdir, f"routes-{routes}", ["--routes-per-api", str(routes), "--tokens", "1"]
            )
            rows.append(("routes", routes, measure(args, db, db["dir"] / "tokens.txt")))
            print(rows[-1], flush=True)
        for applications in APPLICATIONS:
            db = run.seed(
                workdir,
                f"apps-{applications}",
                ["--applications", str(applications), "--tokens", "1"],
            )
            rows.append(("applications", applications, measure(args, db, db["dir"] / "tokens.txt")))
            print(rows[-1], flush=True)
        db = run.seed(workdir, "tokens", ["--tokens", str(max(TOKENS))])
        for tokens in TOKENS:
            tokens_file = first_lines(db["dir"] / "tokens.txt", tokens)
            rows.append(("distinct tokens", tokens, measure(args, db, tokens_file)))
            print(rows[-1], flush=True)
    finally:
        run.stop_nginx(workdir)
    results = [{"grows": grows, "count": count, **result} for grows, count, result in rows]
    (workdir / "results.json").write_text(json.dumps(results, indent=2))
    print(
        f"\n{args.server} {args.workers} workers, {args.connections} connections, "
        f"{args.duration} s each, {os.cpu_count()} CPUs\n"
    )
    print("| grows | count | req/s | p50 ms | p99 ms | worker RSS MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['grows']} | {r['count']:,} | {r['rps']:,.0f} | {r['p50_ms']} | "
            f"{r['p99_ms']} | {r['worker_rss_mb']} |"
        )
    print(f"\nResults: {workdir / 'results.json'}")
    failed = [r for r in results if r.get("non_2xx") or r.get("socket_errors")]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
