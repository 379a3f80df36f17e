"""The policy chain's CPU cost per call, against identification only, in one process.

    bench/chain_cost [--rounds 8] [--calls 3000]

bench/run's scenario (f) measures the same through wrk, but on a machine shared with
other jobs its req/s move by a factor of two between identical runs. This command
takes the noise out: it seeds a database (bench/seed.py: /bench/v1, identification
only, and /chain/v1, every policy of the chain), drives the data plane's ASGI app
in-process on one event loop against an upstream on the same loop, and measures the
CPU time of this process (time.process_time) per call, alternating the two APIs
round by round. The cost is the difference of the medians, as a share of (c).
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BODY = b'{"items": []}'


async def _upstream(reader, writer) -> None:
    while True:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = await reader.read(65536)
            if not chunk:
                writer.close()
                return
            data += chunk
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(BODY), BODY)
        )


async def measure(app, token: str, rounds: int, calls: int) -> dict:
    async def call(path: str, origin: bool) -> None:
        headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
        if origin:
            headers.append((b"origin", b"https://app.example.com"))
        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "scheme": "http",
        }
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        await app(scope, receive, send)
        assert sent[0]["status"] == 200, sent

    apis = {"c": ("/gateway/bench/v1/items", False), "f": ("/gateway/chain/v1/items", True)}
    for path, origin in apis.values():
        for _ in range(300):  # warm-up: config, keys, token cache, pooled connection
            await call(path, origin)
    samples: dict[str, list[float]] = {"c": [], "f": []}
    for _ in range(rounds):
        for name, (path, origin) in apis.items():
            start = time.process_time()
            for _ in range(calls):
                await call(path, origin)
            samples[name].append((time.process_time() - start) / calls * 1e6)
    c, f = statistics.median(samples["c"]), statistics.median(samples["f"])
    return {
        "identification_only_us": round(c, 1),
        "full_chain_us": round(f, 1),
        "cost_percent": round(100 * (f - c) / c, 1),
        "c_samples_us": [round(s, 1) for s in samples["c"]],
        "f_samples_us": [round(s, 1) for s in samples["f"]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="gatekeep-chain-cost-"))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{workdir}/db.sqlite3"}
    env.pop("REDIS_URL", None)
    port = 18180
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/seed.py"),
            str(workdir),
            "--tokens",
            "1",
            "--upstream",
            f"http://127.0.0.1:{port}",
        ],
        env=env,
        cwd=ROOT,
        check=True,
    )
    os.environ.update({"DATABASE_URL": env["DATABASE_URL"], "LOG_LEVEL": "WARNING"})
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from proxy.asgi import PublicApp

    async def run() -> dict:
        server = await asyncio.start_server(_upstream, "127.0.0.1", port)
        try:
            app = PublicApp(preload=False)
            token = (workdir / "token.txt").read_text().strip()
            return await measure(app, token, args.rounds, args.calls)
        finally:
            server.close()

    result = asyncio.run(run())
    print(
        f"CPU per call: identification only {result['identification_only_us']} µs, full chain "
        f"{result['full_chain_us']} µs → +{result['cost_percent']} % (medians of "
        f"{args.rounds} alternating rounds of {args.calls} calls)"
    )
    print(f"  (c) {result['c_samples_us']}\n  (f) {result['f_samples_us']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
