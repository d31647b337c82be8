"""The IPython / ipykernel internals the notebook layer relies on: each in one place, each tested.

An approval click reaches the kernel only while the `%%agent` cell *awaits* (`approvals.py`
says why). Most of that rests on public API: an input transformer in
`InteractiveShell.input_transformers_cleanup` (IPython's "Custom input transformation" docs)
turns the cell into one with a top-level ``await``, which IPython's documented autoawait runs as
a coroutine; the magic itself runs through the public `InteractiveShell.run_cell_magic`. IPython
has no async magics (ipython/ipython#11314 and #14157, open); an input transformer that awaits
the magic's call is the way its maintainers sketched there. Two questions have no public answer,
and are answered here only:

1. *Will the kernel run that cell as a task of its own event loop?* Only then does it take comm
   messages while the cell awaits (ipykernel 7.4, "Allow async cell to process Comm messages",
   PR 1565). ipykernel decides in `IPythonKernel.do_execute`: autoawait on (`should_run_async`),
   its loop running, and ``shell.loop_runner is _asyncio_runner``, a private name it imports
   from `IPython.core.interactiveshell` (a cell under another runner, e.g. ``%autoawait trio``,
   runs through `shell.run_cell` and blocks). `kernel_awaits_cells` asks the same question of
   the same object, reached without a private name: it is ``loop_runner_map["asyncio"][0]``, the
   public table `%autoawait asyncio` reads (an `InteractiveShell` attribute since IPython 7.0).
2. *What does the interrupt button do in that cell?* While an awaiting cell runs, ipykernel
   swaps the SIGINT handler for one that cancels the cell's task
   (`IPythonKernel._cancel_on_sigint`) instead of raising KeyboardInterrupt. A `%%agent` run that
   is followed synchronously (no approval buttons) or a `--agents` grid blocks the cell, where a
   cancelled task would only notice at the end: `interrupt_raises` puts Python's default handler
   back around such code, so the interrupt raises KeyboardInterrupt there as in any cell.

Checked with IPython 9.19.1 and ipykernel 7.4.0 (the versions installed by `scripts/_venv.sh
dev` in December 2026), by running them (tests/notebook/test_ipython_internals.py) and by reading
their sources: IPython `core/interactiveshell.py` (`loop_runner_map`, `_asyncio_runner`,
`should_run_async`, `run_cell_magic`), `core/inputtransformer2.py`
(`TransformerManager.transform_cell`); ipykernel `ipkernel.py` (`do_execute`,
`_cancel_on_sigint`) and `kernelbase.py` (the default SIGINT handler while a request is handled).
ipykernel has compared `loop_runner` with `_asyncio_runner`, and swapped SIGINT for awaiting
cells, since 5.0 (2018); IPython has had both names since 7.0. The tests fail loudly, naming
what to re-read, when either reliance changes (they do not skip, and this module does not fall
back to a guess).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["CHECKED", "MIN_IPYKERNEL", "interrupt_raises", "ipykernel_version", "kernel_awaits_cells"]

CHECKED = {"IPython": "9.19.1", "ipykernel": "7.4.0"}
"""The versions whose internals (this module's docstring) were read and tested."""
MIN_IPYKERNEL = (7, 4)
"""The first ipykernel that handles comm messages while a cell awaits."""


def ipykernel_version() -> tuple[int, int]:
    """The installed ipykernel's (major, minor), or (0, 0) when it is not installed."""
    try:
        import ipykernel
    except ImportError:
        return (0, 0)
    info = tuple(int(v) for v in getattr(ipykernel, "version_info", (0, 0))[:2])
    return (info[0], info[1]) if len(info) == 2 else (0, 0)


def kernel_awaits_cells(shell: Any) -> bool:
    """True when ipykernel would run a cell with a top-level await as a task of its running loop.

    ipykernel's own condition (`IPythonKernel.do_execute`), for ipykernel >= `MIN_IPYKERNEL`: the
    shell's autoawait is on, its `loop_runner` is IPython's asyncio runner, and an event loop runs
    in this thread.
    """
    if ipykernel_version() < MIN_IPYKERNEL or not bool(getattr(shell, "autoawait", False)):
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    runners = getattr(shell, "loop_runner_map", None)
    asyncio_runner = runners.get("asyncio", (None,))[0] if isinstance(runners, dict) else None
    return asyncio_runner is not None and getattr(shell, "loop_runner", None) is asyncio_runner


@contextmanager
def interrupt_raises() -> Iterator[None]:
    """Inside: the interrupt button raises KeyboardInterrupt, also in a cell that awaits.

    Puts `signal.default_int_handler` in place of the handler ipykernel installs for an awaiting
    cell (which cancels the cell's task), and the kernel's back on the way out. Signals are the
    main thread's: elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kernels = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if kernels is not None:  # None: a handler not set from Python, which cannot be put back
            signal.signal(signal.SIGINT, kernels)
