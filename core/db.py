from django.db import DatabaseError, connection

# PostgreSQL's serialization failure and deadlock: the transaction lost a race, retrying
# it is safe (the write was rolled back whole).
WRITE_CONFLICT_STATES = frozenset({"40001", "40P01"})


def release_connection() -> None:
    """Close this thread's DB connection unless a transaction is using it.

    Gateway workers touch the database only to rebuild caches; holding no
    connection between rebuilds means a database outage cannot break the hot path.
    """
    if not connection.in_atomic_block:
        connection.close()


def is_write_conflict(exc: DatabaseError) -> bool:
    """True when `exc` is a concurrent write's doing (retry), not an outage."""
    cause = getattr(exc, "__cause__", None)
    code = getattr(cause, "sqlstate", None) or getattr(
        getattr(cause, "diag", None), "sqlstate", None
    )
    return code in WRITE_CONFLICT_STATES
