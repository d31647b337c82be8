"""Optional dependencies, imported where they are used: one clear error naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str, needed_for: str) -> ModuleType:
    """Import `module`, or raise an ImportError saying which extra installs it.

    Example:
        >>> pd = require("pandas", "pandas", "compare() returns a DataFrame: it")  # doctest: +SKIP
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f'{needed_for} needs {module.split(".")[0]}: pip install "openstackai-nb[{extra}]" ({exc})'
        ) from None
