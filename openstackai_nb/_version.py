"""The package's version, in a module of its own so that any layer can read it without the face."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
"""The installed openstackai-nb's version."""
