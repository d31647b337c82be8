"""Warnings that point at the user's line: `warn(message, category)`, used by every warning of the package.

`warnings.warn(..., stacklevel=N)` with a fixed N points at the right frame for one call path
only: a HistoryWarning raised three calls deep under `openstackai_nb.history` and under
`Runner.run_sync` would name `openstackai_nb/__init__.py` or a module of the package instead of
the notebook cell or script that made the call. `warn` walks out of the package's frames and
reports the first frame outside it: the user's line (or, on a thread the package started, the
threading module's frame, which is what there is). Python 3.12's ``skip_file_prefixes`` does
the same, but 3.11 (our floor) has no such argument, so one frame walk serves every version.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["PACKAGE_DIR", "moved", "renamed", "warn"]

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
"""The package's folder: frames whose file is under it are the package's own."""


def _stacklevel() -> int:
    """The `stacklevel` that, given to `warnings.warn` by `warn`, names the first frame outside the package."""
    frame = sys._getframe(2)  # the caller of `warn`
    level = 2  # 1 is `warn` itself
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level if frame is not None else 2


def warn(message: str, category: type[Warning]) -> None:
    """Issue a warning reported at the user's line: the first frame outside the package."""
    warnings.warn(message, category, stacklevel=_stacklevel())


def renamed(old: str, new: str) -> None:
    """Say that `old` is now called `new`: a DeprecationWarning at the user's line.

    Called by the code that keeps an old name working (a keyword, a property, a function); the
    frame that used the old name is its caller. A use by the package itself (a module that still
    reads the old name until its owner moves it to the new one) stays silent: the warning is for
    the user's code, which is the only code a user can change.
    """
    user = sys._getframe(2)
    if os.path.abspath(user.f_code.co_filename).startswith(PACKAGE_DIR):
        return
    warn(f"{old} is deprecated: use {new} (the old name keeps working for now)", DeprecationWarning)


def moved(module: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` (PEP 562) for names that moved: each still reads, with a DeprecationWarning.

    Args:
        module: the old module's name (its `__name__`).
        names: each moved name -> the module that has it now.

    Example:
        >>> __getattr__ = moved(__name__, {"md_literal": "openstackai_nb.render.markdown_escape"})
    """

    def __getattr__(name: str) -> Any:
        home = names.get(name)
        if home is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warn(f"{module}.{name} moved to {home}.{name}; import it from there", DeprecationWarning)
        return getattr(importlib.import_module(home), name)

    return __getattr__
