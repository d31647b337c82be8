"""Tools shared by the tests that drive real HTTP and replay (plain functions, as users write them)."""

from __future__ import annotations


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: first number.
        b: second number.
    """
    return a + b
