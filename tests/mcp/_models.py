"""A FunctionModel that calls MCP tools in its first turn, then answers with their results."""

from __future__ import annotations

from typing import Any

from openstackai_nb.messages import Message
from openstackai_nb.models import FunctionModel
from openstackai_nb.models.function import AgentInfo, Reply


def calls(*requests: Any, seen: list[AgentInfo] | None = None) -> FunctionModel:
    """Call `requests` (from `call(...)`) in turn 1; answer with the tools' results joined by " | ".

    The results are in the order of the requests (parallel calls finish in any order).
    """

    def model(messages: list[Message], info: AgentInfo) -> Reply | str:
        if seen is not None:
            seen.append(info)
        if info.turn == 1:
            return Reply(tool_calls=list(requests))
        order = [c.id for m in messages if m.role == "assistant" for c in m.tool_calls]
        results = sorted((m for m in messages if m.role == "tool"), key=lambda m: order.index(m.tool_call_id or ""))
        return " | ".join(str(m.content) for m in results)

    return FunctionModel(model, name="caller")
