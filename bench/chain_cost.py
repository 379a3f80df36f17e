"""The policy chain's CPU cost per call, against identification only, in one process.

    bench/chain_cost [--rounds 8] [--calls 3000]
    bench/chain_cost --opcodes [--calls 200] [--by-function 25]

bench/run's scenario (f) measures the same through wrk, but on a machine shared with
other jobs its req/s move by a factor of two between identical runs. This command
takes the noise out: it seeds a database (bench/seed.py: /bench/v1, identification
only, and /chain/v1, every policy of the chain), drives the data plane's ASGI app
in-process on one event loop against an upstream on the same loop, and measures the
CPU time of this process (time.process_time) per call, alternating the two APIs
round by round. The cost is the difference of the medians, as a share of (c).

The upstream answers from a thread of its own, and the CPU time is the gateway
thread's (time.thread_time), so neither figure includes the upstream's work.

`--opcodes` counts the bytecode instructions the gateway thread executes per call
instead (sys.settrace with opcode events): a measure the machine's load cannot
move, for comparing (c) with (f) on a shared machine. Code in C (the regex engine,
dict and str methods, the event loop's selector) is not counted, so it is a
measure of our Python, not of time. `--by-function N` lists the N functions whose
count differs most between (c) and (f).

`--server` puts the data plane's HTTP server in front, as a bench/run worker has it
(uvicorn's llhttp protocol of proxy/server.py on uvloop, in this process), and
sends the calls over one keep-alive connection from a client thread; both figures
then include the server's per-call Python (parsing callbacks, the ASGI cycle).
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
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


APIS = {"c": ("/gateway/bench/v1/items", False), "f": ("/gateway/chain/v1/items", True)}


def caller(app, token: str):
    plain = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
    # Built once: the harness does the same work for (c) and (f).
    with_origin = [*plain, (b"origin", b"https://app.example.com")]

    async def call(path: str, origin: bool) -> None:
        headers = with_origin if origin else plain
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

    return call


def server_caller(port: int, token: str):
    """`call` over HTTP to the in-process server, from a client thread of its own."""
    client = ThreadPoolExecutor(max_workers=1)
    connection: list[socket.socket] = []

    def exchange(path: str, origin: bool) -> None:
        if not connection:
            connection.append(socket.create_connection(("127.0.0.1", port)))
        sock = connection[0]
        extra = "Origin: https://app.example.com\r\n" if origin else ""
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
            f"{extra}\r\n".encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += sock.recv(65536)

    async def call(path: str, origin: bool) -> None:
        await asyncio.get_running_loop().run_in_executor(client, exchange, path, origin)

    return call


async def serve(app, port: int):
    """The data plane's server (proxy/server.py's settings) on this event loop."""
    import uvicorn

    from proxy.server import DataPlaneWorker

    kwargs = {k: v for k, v in DataPlaneWorker.CONFIG_KWARGS.items() if k != "loop"}
    kwargs["lifespan"] = "off"
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **kwargs)
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    return server, task


async def warm_up(call) -> None:
    for path, origin in APIS.values():
        for _ in range(300):  # config, keys, token cache, pooled connection
            await call(path, origin)


async def measure(call, rounds: int, calls: int) -> dict:
    await warm_up(call)
    samples: dict[str, list[float]] = {"c": [], "f": []}
    for _ in range(rounds):
        for name, (path, origin) in APIS.items():
            start = time.thread_time()
            for _ in range(calls):
                await call(path, origin)
            samples[name].append((time.thread_time() - start) / calls * 1e6)
    c, f = statistics.median(samples["c"]), statistics.median(samples["f"])
    return {
        "identification_only_us": round(c, 1),
        "full_chain_us": round(f, 1),
        "cost_percent": round(100 * (f - c) / c, 1),
        "c_samples_us": [round(s, 1) for s in samples["c"]],
        "f_samples_us": [round(s, 1) for s in samples["f"]],
    }


async def count_opcodes(call, calls: int) -> dict:
    """Bytecode instructions per call of this thread, and per function, for (c) and (f)."""
    await warm_up(call)
    result = {}
    for name, (path, origin) in APIS.items():
        per_code: Counter = Counter()

        def local(frame, event, arg, per_code=per_code):
            if event == "opcode":
                per_code[frame.f_code] += 1
            return local

        def on_call(frame, event, arg):
            frame.f_trace_opcodes = True
            return local

        sys.settrace(on_call)
        try:
            for _ in range(calls):
                await call(path, origin)
        finally:
            sys.settrace(None)
        result[name] = {
            f"{Path(code.co_filename).name}:{code.co_firstlineno} {code.co_name}": count / calls
            for code, count in per_code.items()
        }
    return result


def _print_opcodes(counts: dict, top: int) -> None:
    c, f = sum(counts["c"].values()), sum(counts["f"].values())
    print(
        f"Bytecode instructions per call: identification only {c:.0f}, full chain {f:.0f} "
        f"→ +{100 * (f - c) / c:.1f} % (+{f - c:.0f})"
    )
    if top:
        names = set(counts["c"]) | set(counts["f"])
        deltas = sorted(
            ((counts["f"].get(n, 0) - counts["c"].get(n, 0), n) for n in names),
            key=lambda item: -abs(item[0]),
        )
        for delta, name in deltas[:top]:
            print(f"  {delta:+8.1f}  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument(
        "--calls", type=int, default=None, help="per round (3000; 200 with --opcodes)"
    )
    parser.add_argument("--opcodes", action="store_true", help="count bytecode instructions")
    parser.add_argument("--by-function", type=int, default=0, metavar="N")
    parser.add_argument("--server", action="store_true", help="through the HTTP server")
    args = parser.parse_args()
    if args.calls is None:
        args.calls = 200 if args.opcodes else 3000
    workdir = Path(tempfile.mkdtemp(prefix="gatekeep-chain-cost-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir}/db.sqlite3",
        # Its own key and config snapshots, never another gateway's (settings.py's default).
        "GATEWAY_STATE_DIR": str(workdir / "state"),
    }
    env.pop("REDIS_URL", None)
    port = int(os.environ.get("BENCH_PORT_BASE", "18080")) + 100
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
    os.environ.update(
        {
            "DATABASE_URL": env["DATABASE_URL"],
            "GATEWAY_STATE_DIR": env["GATEWAY_STATE_DIR"],
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_admin.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from proxy.asgi import PublicApp

    upstream_loop = asyncio.new_event_loop()
    listening = threading.Event()

    def serve_upstream() -> None:
        asyncio.set_event_loop(upstream_loop)
        upstream_loop.run_until_complete(asyncio.start_server(_upstream, "127.0.0.1", port))
        listening.set()
        upstream_loop.run_forever()

    threading.Thread(target=serve_upstream, daemon=True).start()
    listening.wait()
    app = PublicApp(preload=False)
    token = (workdir / "token.txt").read_text().strip()

    async def run():
        server = None
        if args.server:
            server, task = await serve(app, port + 1)
            call = server_caller(port + 1, token)
        else:
            call = caller(app, token)
        try:
            if args.opcodes:
                return await count_opcodes(call, args.calls)
            return await measure(call, args.rounds, args.calls)
        finally:
            if server is not None:
                server.should_exit = True
                await task

    if args.server:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    result = asyncio.run(run())
    if args.opcodes:
        _print_opcodes(result, args.by_function)
        return 0
    print(
        f"CPU per call: identification only {result['identification_only_us']} µs, full chain "
        f"{result['full_chain_us']} µs → +{result['cost_percent']} % (medians of "
        f"{args.rounds} alternating rounds of {args.calls} calls)"
    )
    print(f"  (c) {result['c_samples_us']}\n  (f) {result['f_samples_us']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
