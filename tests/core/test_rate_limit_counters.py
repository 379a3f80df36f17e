"""Issue 12, finding 2: the token endpoint's counters hold under concurrency.

Counts go through the Django cache with add + incr, never get + set: with Redis every
process shares one count, with the in-process cache each process counts alone but
exactly. A cache outage lets requests through rather than failing them.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.ratelimit import Limit, hit, peek
from tests.production import redis_server  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parents[2]
# A long window, so a test never straddles two of them.
LIMIT = Limit("test-counter", 100, window=3600)

HITS_IN_A_PROCESS = """
import os, sys, time
import django
django.setup()
from core.ratelimit import Limit, hit
start_at = float(sys.argv[1])
time.sleep(max(0.0, start_at - time.time()))
limit = Limit("test-shared", 50, window=3600)
print(sum(1 for _ in range(40) if hit(limit, "one client") is None))
"""


def admitted_in_threads(threads: int, hits_each: int) -> int:
    admitted = []
    barrier = threading.Barrier(threads)

    def run():
        barrier.wait()
        admitted.append(sum(1 for _ in range(hits_each) if hit(LIMIT, "one client") is None))

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(admitted)


def test_concurrent_hits_in_one_process_are_all_counted():
    assert admitted_in_threads(threads=8, hits_each=25) == LIMIT.limit


def test_the_refusal_says_when_the_window_ends(clock):
    clock.seconds -= clock.seconds % LIMIT.window
    for _ in range(LIMIT.limit):
        assert hit(LIMIT, "one client") is None
    clock.advance(LIMIT.window - 100.5)

    exceeded = hit(LIMIT, "one client")

    assert exceeded.limit == LIMIT
    assert exceeded.retry_after == 101  # whole seconds, rounded up
    assert peek(LIMIT, "one client") is not None
    assert peek(LIMIT, "another client") is None
    assert hit(LIMIT, "another client") is None


def test_peeking_counts_nothing():
    for _ in range(3 * LIMIT.limit):
        assert peek(LIMIT, "one client") is None


def test_subjects_are_hashed_so_any_string_is_a_safe_key():
    for subject in ["", " ", "a" * 10_000, "\x00\n\r", "ünï\ud800cödé", "key:with:colons"]:
        assert hit(LIMIT, subject) is None


@pytest.mark.redis
def test_processes_sharing_redis_share_one_count(redis_server):  # noqa: F811
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "DJANGO_SETTINGS_MODULE": "gateway_admin.settings",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    start_at = str(time.time() + 3)  # all three start counting at once, after Django setup
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", HITS_IN_A_PROCESS, start_at],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    admitted = [
        int(process.communicate(timeout=60)[0].strip().splitlines()[-1]) for process in processes
    ]

    # 120 hits against a limit of 50: exactly 50 admitted in all, whoever got them.
    assert sum(admitted) == 50, admitted


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_cache_outage_lets_requests_through(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    limit = Limit("outage", 1)

    # A working cache would refuse the second hit.
    assert [hit(limit, "one client"), hit(limit, "one client")] == [None, None]
    assert peek(limit, "one client") is None
