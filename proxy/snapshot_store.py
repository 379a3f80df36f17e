"""The compiled config snapshot as bytes (zlib-compressed JSON) and as a local file.

The file (GATEWAY_STATE_DIR/config-snapshot.json.z) holds the last snapshot this
node loaded, so a worker that starts while PostgreSQL and Redis are both
unreachable still serves the last good config.
"""

import json
import logging
import os
import tempfile
import zlib
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)
FILE_NAME = "config-snapshot.json.z"


def encode(snapshot: dict) -> bytes:
    return zlib.compress(json.dumps(snapshot, separators=(",", ":")).encode(), 3)


def decode(data: bytes | None) -> dict | None:
    if data is None:
        return None
    try:
        return json.loads(zlib.decompress(data))
    except (ValueError, zlib.error):
        logger.warning("Ignoring an unreadable config snapshot")
        return None


def path() -> Path:
    return Path(settings.GATEWAY_STATE_DIR) / FILE_NAME


def write_file(snapshot: dict, encoded: bytes | None = None) -> None:
    """Keep `snapshot` as the node's last good config (atomically replaced). The workers of
    a node all load the same versions: the ones after the first find the same bytes there."""
    target = path()
    data = encoded if encoded is not None else encode(snapshot)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if target.read_bytes() == data:
                return
        except FileNotFoundError:
            pass
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".config-snapshot-")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except OSError:
        logger.warning("Could not write the config snapshot file %s", target, exc_info=True)


def read_file() -> dict | None:
    try:
        return decode(path().read_bytes())
    except OSError:
        return None
