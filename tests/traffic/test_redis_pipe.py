"""The data plane's pipelined Redis client and the counting script, against a real
redis-server and against servers that misbehave."""

import asyncio
import time

import pytest

from proxy.rate_limits import SharedCounters
from proxy.redis_pipe import RedisPipe, RedisReplyError, RedisUnavailable, _Protocol
from tests.production import RedisServer
from tests.servers import ScriptedServer
from traffic.counters import application_subject, day_window, month_window, subject_keys
from traffic.snapshot import Limits


@pytest.fixture(scope="module")
def redis_url():
    server = RedisServer()
    yield server.url
    server.stop()


def test_replies_split_at_every_byte_are_matched_to_their_calls_in_order():
    replies = (
        b":42\r\n*3\r\n:1\r\n$3\r\nabc\r\n*1\r\n$-1\r\n-NOSCRIPT No matching script\r\n+OK\r\n"
    )
    protocol = _Protocol()
    loop = asyncio.new_event_loop()
    try:
        futures = [loop.create_future() for _ in range(4)]
        protocol.pending.extend(futures)
        for n in range(len(replies)):
            protocol.data_received(replies[n : n + 1])
        values = [future.result() for future in futures]
    finally:
        loop.close()
    assert values[0] == 42
    assert values[1] == [1, b"abc", [None]]
    assert isinstance(values[2], RedisReplyError) and str(values[2]).startswith("NOSCRIPT")
    assert values[3] == "OK"


def test_a_garbled_reply_fails_every_pending_call_instead_of_misattributing_it():
    protocol = _Protocol()
    loop = asyncio.new_event_loop()
    try:
        futures = [loop.create_future() for _ in range(2)]
        protocol.pending.extend(futures)
        protocol.data_received(b"?what\r\n:1\r\n")
        assert all(isinstance(f.exception(), RedisUnavailable) for f in futures)
    finally:
        loop.close()


def test_a_redis_that_never_answers_costs_one_timeout_then_the_call_fails():
    def hang(conn, server):
        server.stopping.wait(10)

    silent = ScriptedServer(hang)
    try:

        async def call():
            pipe = RedisPipe(f"redis://127.0.0.1:{silent.port}/3", timeout=0.2)
            started = time.monotonic()
            with pytest.raises(RedisUnavailable):
                await pipe.call("PING")
            return time.monotonic() - started

        assert asyncio.run(call()) < 1.5
    finally:
        silent.stop()


def test_a_refused_connection_fails_at_once():
    async def call():
        with pytest.raises(RedisUnavailable):
            await RedisPipe("redis://127.0.0.1:1/0", timeout=1).call("PING")

    asyncio.run(call())


def test_concurrent_calls_share_one_connection_and_each_gets_its_own_reply(redis_url):
    async def calls():
        pipe = RedisPipe(redis_url.replace("/0", "/2"), timeout=2)
        await pipe.call("SET", "k", "v")
        replies = await asyncio.gather(*(pipe.call("INCRBY", "n", i) for i in range(1, 51)))
        database = await pipe.call("CLIENT", "INFO")
        pipe.close()
        return replies, database

    replies, info = asyncio.run(calls())
    assert sorted(replies) == [sum(range(1, i + 1)) for i in range(1, 51)]
    assert b" db=2 " in info  # the URL's database was selected


def test_the_script_is_sent_again_after_redis_forgets_it_and_windows_follow_redis_time(
    redis_url, settings
):
    import redis

    settings.REDIS_URL = redis_url
    settings.GATEWAY_RATE_LIMIT_REDIS_TIMEOUT = 2
    direct = redis.Redis.from_url(redis_url)
    direct.script_flush()
    keys = subject_keys(7, application_subject(3))
    limits = Limits(rate=5, period=1, burst=2, quota_per_day=10, quota_per_month=100)

    async def hits():
        counters = SharedCounters()
        return [await counters.hit(keys, limits) for _ in range(3)]

    first, second, third = asyncio.run(hits())
    assert first[:2] == [1, 0] and second[:2] == [1, 0]
    assert third[:2] == [0, 1]  # burst of 2 used up: refused by the rate
    assert first[5] == 1 and second[5] == 2 and third[5] == 2  # a refusal counts nothing
    seconds, _ = direct.time()
    day_key = f"{keys[1]}:{day_window(seconds)}"
    month_key = f"{keys[2]}:{month_window(seconds)}"
    assert direct.get(day_key) == b"2" and direct.get(month_key) == b"2"
    assert 0 < direct.ttl(day_key) <= 86400 + 3600
    assert 0 < direct.ttl(month_key) <= 31 * 86400 + 86400
    assert abs(first[6] - (86400 - seconds % 86400)) <= 1  # seconds to the next UTC midnight


def test_calls_waiting_for_a_connection_that_fails_all_fail_and_none_hangs():
    def refuse_auth(conn, server):
        conn.recv(1024)
        conn.close()  # closed during the AUTH the URL asks for

    rude = ScriptedServer(refuse_auth)
    try:

        async def calls():
            pipe = RedisPipe(f"redis://:secret@127.0.0.1:{rude.port}/0", timeout=1)
            return await asyncio.wait_for(
                asyncio.gather(*(pipe.call("PING") for _ in range(5)), return_exceptions=True),
                5,
            )

        outcomes = asyncio.run(calls())
        assert all(isinstance(outcome, RedisUnavailable) for outcome in outcomes), outcomes
    finally:
        rude.stop()
