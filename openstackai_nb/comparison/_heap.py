"""Handing the C heap's free pages back to the system after a large compare (glibc's `malloc_trim`).

glibc keeps freed memory in its heaps: the main heap shrinks only from its top, and a thread's
arena (distributed's IO thread decodes every result's message in one of its own) keeps its freed
pages. After a large compare those pages are free but still resident; `malloc_trim(0)` gives them
back. Measured in benchmarks/bench_compare_memory.py (figures where each caller uses it:
`table._trim_when_deleted`, `_dask_handle.DaskHandle`). Elsewhere than glibc nothing is done.
Dask trims its workers the same way (its docs: "Manually trim memory").
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable

__all__ = ["malloc_trim", "trim_heap"]


@functools.cache
def malloc_trim() -> Callable[[int], int] | None:
    """Glibc's `malloc_trim`, looked up once; None where the C library is not glibc."""
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # no such library or function: nothing to give back this way
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def trim_heap() -> bool:
    """Hand the C heap's free pages back to the system now; False where there is no `malloc_trim`."""
    trim = malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
