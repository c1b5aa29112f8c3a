"""Keeping the resident size near what the process really holds (glibc only).

The first sync of a big cluster parses tens of megabytes of JSON (10,000 pods come as
~23 MB in pages of 500) on a dozen watch threads. glibc gives each thread that allocates
its own heap arena (up to 8 per core) and keeps what was freed in each for reuse, so the
resident size stayed ~20 MiB above what the records need. Two arenas are plenty for
threads that mostly wait on sockets, and once synced the freed parts are handed back.
Elsewhere (musl, macOS) these calls do not exist and nothing is done.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
from typing import Any

M_ARENA_MAX = -8  # glibc's mallopt parameter number


def _libc() -> Any | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_arenas(count: int = 2) -> None:
    """Before the source threads start: at most `count` malloc arenas."""
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(OSError):
            libc.mallopt(M_ARENA_MAX, count)


def release_free_memory() -> None:
    """Hand the heap freed since the peak back to the system."""
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(OSError):
            libc.malloc_trim(0)
