"""The private run loop's public, package-internal face (`runner.loop`), and how it closes clients."""

from __future__ import annotations

import asyncio

from openstackai_nb import Agent, Runner
from openstackai_nb.models import _http, aclose_clients
from tests._server import OpenAIServer, text_stream


def test_aclose_clients_closes_this_loops_pooled_clients(openai_server: OpenAIServer) -> None:
    openai_server.script(text_stream("one"), text_stream("two"))
    agent = Agent(name="A", model="openai:m")

    async def main() -> tuple[object, object, bool, str | None]:
        await Runner.run_async(agent, "Hi")
        async with _http.lease() as first:  # the loop's warm client
            pass
        await aclose_clients()
        closed = first.is_closed
        second = await Runner.run_async(agent, "Hi")  # a new client for the same loop
        async with _http.lease() as again:
            pass
        await aclose_clients()
        return first, again, closed, second.final_output

    first, again, closed, output = asyncio.run(main())
    assert closed and again is not first and output == "two"
