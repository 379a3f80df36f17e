from django.db import connection


def release_connection() -> None:
    """Close this thread's DB connection unless a transaction is using it.

    Gateway workers touch the database only to rebuild caches; holding no
    connection between rebuilds means a database outage cannot break the hot path.
    """
    if not connection.in_atomic_block:
        connection.close()
