"""Quickstart: an agent with a tool, run offline with the scripted model (no API key)."""

import asyncio
import os

from openstackai_nb import Agent, Runner, StreamingRunner
from openstackai_nb.runner import RunConfig

MODEL = "gpt-4o-mini" if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL") else "scripted"


def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: the city's name.
    """
    return f"Sunny, 21 C in {city}"


agent = Agent(name="Assistant", instructions="You are helpful.", tools=[get_weather], model=MODEL)
print(f"model: {MODEL}")
result = Runner.run_sync(agent, "What is the weather in Paris?", config=RunConfig(max_turns=5))
print(result)
print(result.final_output)


async def stream() -> None:
    async for event in StreamingRunner(agent).run("And in Tokyo?"):
        if event.type == "text":
            print(event.content, end="", flush=True)
        elif event.type in ("tool_call", "tool_result"):
            print(f"[{event.type} {event.tool_name} {event.arguments} -> {event.result}]")
    print()


asyncio.run(stream())
