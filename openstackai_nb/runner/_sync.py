"""The old name of `openstackai_nb.runner.loop` (the private run loop), kept while call sites switch.

Importing it gives the very module `runner.loop` (one loop, one thread, one set of globals), so
`runner._sync.get_loop()` and `runner.loop.get_loop()` are the same function. New code imports
`openstackai_nb.runner.loop`; /work/wt/h24home-todo.md lists the call sites still to switch.
"""

from __future__ import annotations

import sys

from openstackai_nb.runner import loop
from openstackai_nb.runner.loop import (
    CANCEL_WAIT,
    SHUTDOWN_WAIT,
    LoopTask,
    check_not_on_loop,
    get_loop,
    run_blocking,
)

__all__ = ["CANCEL_WAIT", "LoopTask", "SHUTDOWN_WAIT", "check_not_on_loop", "get_loop", "run_blocking"]

sys.modules[__name__] = loop
