"""glibc's heap, tuned for a worker that holds one large, long-lived compiled config.

A config build allocates hundreds of MB of short-lived objects and keeps a fraction;
glibc keeps the rest unless asked (`return_free_memory_to_os`). Builds run in a
background thread, and glibc gives each thread its own heap ("arena"), which
`malloc_trim` cannot shrink as well: at 100,000 applications a build in a thread left
a worker about 30 MB larger than the same build in the main thread. A data-plane
worker has one event loop and a few background threads, so one arena costs no
contention worth measuring (`use_one_arena`, called after the fork).
"""

import ctypes
import ctypes.util

M_ARENA_MAX = -8  # glibc's mallopt parameter


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only: musl and macOS have neither call
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_libc = _glibc()


def return_free_memory_to_os() -> None:
    """Give back the heap a build's temporaries used (glibc keeps it otherwise)."""
    if _libc is not None:
        _libc.malloc_trim(0)


def use_one_arena() -> None:
    """Every thread of this process allocates from the main heap (before threads start)."""
    if _libc is not None:
        _libc.mallopt(M_ARENA_MAX, 1)
