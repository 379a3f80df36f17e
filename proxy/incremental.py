"""Compile only what changed: an API whose sources are the same as in the config being
replaced keeps its compiled form (routes, policy, application index).

With 100,000 applications the application indexes are most of a compile's work. The
process that reads the database adds to the snapshot a digest (and count) of each API's
application rows, so every worker can tell which APIs changed without comparing rows;
an API's source key is its own data, the servers its policy trusts and that digest.

Indexes of reused APIs keep the ApplicationTable they were built with. When the rows to
rebuild are more than a quarter of all rows, everything is rebuilt into one fresh table
instead, so old tables are not kept alive for a few APIs' sake.
"""

import hashlib
import io
import json
from itertools import groupby

FULL_REBUILD_SHARE = 0.25


def application_digests(applications: str) -> dict[str, list]:
    """API id (as text, the JSON key) → [digest of its rows, row count]. `applications` is
    the snapshot's JSON lines, ordered by API and application (collect_snapshot)."""
    found = {}
    lines = io.StringIO(applications)
    for api_id, rows in groupby(lines, key=lambda line: line[1 : line.index(",")]):
        digest, count = hashlib.blake2b(digest_size=16), 0
        for line in rows:
            digest.update(line.rstrip("\n").encode())
            count += 1
        found[api_id] = [digest.hexdigest(), count]
    return found


def source_keys(snapshot: dict) -> dict[int, str]:
    """API id → what its compiled form depends on; empty for a snapshot without digests."""
    digests = snapshot.get("application_digests")
    if digests is None:
        return {}
    servers = {data["id"]: data for data in snapshot["servers"]}
    keys = {}
    for api in snapshot["apis"]:
        policy = api["policy"]
        trusted = [servers[s] for s in policy["servers"]] if policy else []
        source = [api, trusted, digests.get(str(api["id"]))]
        keys[api["id"]] = json.dumps(source, sort_keys=True, default=str)
    return keys


def reusable_apis(sources: dict[int, str], previous) -> dict:
    """API id → the previous config's ApiConfig, for every API whose sources are unchanged;
    empty when a full rebuild is due."""
    if previous is None or not sources or not previous.sources:
        return {}
    reused = {
        api_id: old[1]
        for api_id, key in sources.items()
        if (old := previous.sources.get(api_id)) is not None and old[0] == key
    }
    rebuilt_rows = sum(_row_count(key) for api_id, key in sources.items() if api_id not in reused)
    total_rows = sum(_row_count(key) for key in sources.values())
    if total_rows and rebuilt_rows > FULL_REBUILD_SHARE * total_rows:
        return {}
    return reused


def _row_count(key: str) -> int:
    digest = json.loads(key)[2]
    return digest[1] if digest else 0
