"""Run a coroutine on a fresh loop and close that loop's pooled HTTP client afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from openstackai_nb.models import aclose_clients

T = TypeVar("T")


def arun(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(coro), closing the loop's httpx2 client so no socket leaks."""

    async def main() -> T:
        try:
            return await coro
        finally:
            await aclose_clients()

    return asyncio.run(main())
