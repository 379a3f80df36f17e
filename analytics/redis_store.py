"""Traffic cells in Redis between the data plane and the database.

One hash per minute, `<prefix>:analytics:m:<epoch>`, with fields
`<api>:<app>:<class>:n` (calls), `…:us` (latency sum, microseconds), `…:b<i>`
(histogram buckets) and `…:r:<code>` (refusals). HINCRBY from every worker of every
node adds up exactly. `take_pending()` moves each hash aside atomically (RENAME +
SREM in one MULTI), so a flush landing during ingestion starts a fresh hash and is
picked up next time; a hash whose ingestion failed stays listed until it succeeds.
"""

import uuid

from django.conf import settings

from analytics.cells import Cell, Key
from core import config_bus


def _key(name: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or "gatekeep"
    return f"{prefix}:analytics:{name}"


def pending_set() -> str:
    return _key("pending")


def taken_set() -> str:
    return _key("taken")


def push(cells: dict[Key, Cell]) -> None:
    redis = config_bus.client()
    if redis is None:
        raise RuntimeError("REDIS_URL is set but no Redis client could be made")
    pipe = redis.pipeline(transaction=True)
    hashes = set()
    for (minute, api_id, application_id, status_class), cell in cells.items():
        name = _key(f"m:{minute}")
        hashes.add(name)
        prefix = f"{api_id}:{application_id}:{status_class}:"
        pipe.hincrby(name, prefix + "n", cell.count)
        pipe.hincrby(name, prefix + "us", round(cell.latency_ms_sum * 1000))
        for index, count in enumerate(cell.buckets):
            if count:
                pipe.hincrby(name, f"{prefix}b{index}", count)
        for code, count in cell.refusals.items():
            pipe.hincrby(name, f"{prefix}r:{code}", count)
    pipe.sadd(pending_set(), *hashes)
    pipe.execute()


def take_pending(redis) -> list[str]:
    """Move every pending minute hash aside; returns the names to ingest (old and new)."""
    for name in redis.smembers(pending_set()):
        name = name.decode()
        aside = f"{name}:taken:{uuid.uuid4().hex}"
        pipe = redis.pipeline(transaction=True)
        pipe.srem(pending_set(), name)
        pipe.sadd(taken_set(), aside)
        pipe.rename(name, aside)
        try:
            pipe.execute()
        except Exception as error:  # the hash vanished (another ingester took it)
            if "no such key" not in str(error).lower():
                raise
            redis.srem(taken_set(), aside)
    return [name.decode() for name in redis.smembers(taken_set())]


def read_cells(redis, name: str) -> dict[Key, Cell]:
    minute = int(name.split(":m:", 1)[1].split(":", 1)[0])
    cells: dict[Key, Cell] = {}
    for raw_field, raw_value in redis.hgetall(name).items():
        parts = raw_field.decode().split(":", 4)
        key = (minute, int(parts[0]), int(parts[1]), int(parts[2]))
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = Cell()
        value = int(raw_value)
        kind = parts[3]
        if kind == "n":
            cell.count += value
        elif kind == "us":
            cell.latency_ms_sum += value / 1000
        elif kind == "r" and len(parts) == 5:
            cell.refusals[parts[4]] = cell.refusals.get(parts[4], 0) + value
        elif kind.startswith("b"):
            index = int(kind[1:])
            if 0 <= index < len(cell.buckets):
                cell.buckets[index] += value
    return cells


def forget(redis, name: str) -> None:
    pipe = redis.pipeline(transaction=True)
    pipe.delete(name)
    pipe.srem(taken_set(), name)
    pipe.execute()
